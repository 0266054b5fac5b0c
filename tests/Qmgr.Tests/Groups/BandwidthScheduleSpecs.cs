using Akka.Configuration;
using Qmgr.Jobs;
using Qmgr.Transfers;
using Xunit;

namespace Qmgr.Tests.Groups;

/// <summary>Decision 4: which rate the background bucket gets from <c>qmgr.bandwidth.schedules</c>, on a virtual clock.</summary>
public sealed class BandwidthScheduleSpecs
{
    private const long Cap = 10_000_000;
    private static readonly HashSet<DayOfWeek> Weekdays = [DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday];
    private static readonly BandwidthWindow Work = new(Weekdays, 8, 17, High: 4_000_000, Normal: 1_000_000, Low: null);
    private static readonly BandwidthWindow Night = new(new HashSet<DayOfWeek> { DayOfWeek.Friday }, 22, 6, High: 50_000_000, Normal: 50_000_000, Low: 50_000_000);

    // 2026-11-30 is a Monday
    private static DateTime At(int day, int hour, int minute = 0) => new DateTime(2026, 11, 30, hour, minute, 0).AddDays(day);

    [Theory]
    [InlineData(0, 8, 0, JobPriority.Normal, 1_000_000)]   // Monday 08:00, first hour of the window
    [InlineData(0, 16, 59, JobPriority.High, 4_000_000)]  // last minute of the window
    [InlineData(0, 17, 0, JobPriority.Normal, Cap)]       // the end hour is outside
    [InlineData(0, 7, 59, JobPriority.Normal, Cap)]
    [InlineData(0, 12, 0, JobPriority.Low, Cap)]          // Low has no limit in the work window: the cap applies
    [InlineData(5, 12, 0, JobPriority.Normal, Cap)]       // Saturday is not a work day
    [InlineData(4, 23, 0, JobPriority.Normal, 50_000_000)] // Friday night window overrides (raises) the cap
    [InlineData(5, 5, 59, JobPriority.Low, 50_000_000)]   // ... and runs past midnight into Saturday
    [InlineData(5, 6, 0, JobPriority.Low, Cap)]
    [InlineData(0, 3, 0, JobPriority.Low, Cap)]           // Monday 03:00 follows Sunday, not Friday
    [InlineData(0, 12, 0, JobPriority.Foreground, 0)]     // Foreground skips cap and schedules
    public void The_window_in_force_overrides_the_node_share(int day, int hour, int minute, JobPriority priority, long expected) =>
        Assert.Equal(expected, BandwidthSchedule.EffectiveRate(Cap, [Work, Night], priority, At(day, hour, minute)));

    [Fact]
    public void Where_windows_overlap_the_smallest_limit_wins()
    {
        var tighter = new BandwidthWindow(new HashSet<DayOfWeek> { DayOfWeek.Monday }, 12, 13, null, 300_000, null);
        Assert.Equal(300_000, BandwidthSchedule.EffectiveRate(Cap, [Work, tighter], JobPriority.Normal, At(0, 12, 30)));
        Assert.Equal(4_000_000, BandwidthSchedule.EffectiveRate(Cap, [Work, tighter], JobPriority.High, At(0, 12, 30)));
    }

    [Fact]
    public void No_cap_and_no_window_is_no_limit() =>
        Assert.Equal(0, BandwidthSchedule.EffectiveRate(0, [Work], JobPriority.Normal, At(5, 12)));

    [Fact]
    public void Schedules_parse_from_hocon_with_days_hours_and_per_priority_limits()
    {
        // arrange
        var config = ConfigurationFactory.ParseString("""
            qmgr.bandwidth.schedules = [
              { days = [mon, tue, wed, thu, fri], from = 8, to = 17, high = 4000000, normal = 1000000 }
              { days = [friday], from = 22, to = 6, low = 50000000 }
            ]
            """);

        // act
        var windows = QmgrSettings.Create(config).BandwidthSchedules;

        // assert
        Assert.Equal(2, windows.Count);
        Assert.Equal((8, 17, 4_000_000L, 1_000_000L, (long?)null), (windows[0].FromHour, windows[0].ToHour, windows[0].High!.Value, windows[0].Normal!.Value, windows[0].Low));
        Assert.Equal(5, windows[0].Days.Count);
        Assert.Equal([DayOfWeek.Friday], windows[1].Days);
        Assert.Equal(50_000_000, windows[1].Low);
    }

    [Theory]
    [InlineData("{ days = [someday], from = 8, to = 17, normal = 1 }")]
    [InlineData("{ days = [mon], from = 8, to = 8, normal = 1 }")]
    [InlineData("{ days = [mon], from = 8, to = 25, normal = 1 }")]
    [InlineData("{ days = [mon], from = 8, to = 17, normal = 0 }")]
    public void Bad_windows_are_configuration_errors(string window) =>
        Assert.Throws<ConfigurationException>(() => QmgrSettings.Create(ConfigurationFactory.ParseString($"qmgr.bandwidth.schedules = [{window}]")));

    [Fact]
    public void Defaults_have_no_schedule_and_a_thirty_second_slice()
    {
        var settings = QmgrSettings.Create(Config.Empty);
        Assert.Empty(settings.BandwidthSchedules);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.TimeSlice);
    }
}
