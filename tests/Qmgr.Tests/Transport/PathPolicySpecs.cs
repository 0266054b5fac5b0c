using Qmgr.Tests.Support;
using Qmgr.Transport;
using Xunit;

namespace Qmgr.Tests.Transport;

/// <summary>Local targets must stay inside the configured roots, whatever <c>..</c> or symlinks say.</summary>
public sealed class PathPolicySpecs : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Without_roots_every_absolute_path_is_allowed() =>
        Assert.True(PathPolicy.IsAllowed("/etc/passwd", []));

    [Fact]
    public void A_path_inside_a_root_is_allowed_even_in_a_directory_not_yet_created()
    {
        var root = _dir.Sub("root");
        Assert.True(PathPolicy.IsAllowed(Path.Combine(root, "a", "b", "file.bin"), [root]));
    }

    [Fact]
    public void Dot_dot_cannot_leave_the_root_and_a_sibling_with_the_same_prefix_is_outside()
    {
        var root = _dir.Sub("root");
        _dir.Sub("root-evil");
        Assert.False(PathPolicy.IsAllowed(Path.Combine(root, "..", "escape.bin"), [root]));
        Assert.False(PathPolicy.IsAllowed(Path.Combine(_dir.Path, "root-evil", "x.bin"), [root]));
    }

    [Fact]
    public void A_symlinked_directory_inside_the_root_that_points_outside_is_refused()
    {
        // arrange
        var root = _dir.Sub("root");
        var outside = _dir.Sub("outside");
        Directory.CreateSymbolicLink(Path.Combine(root, "link"), outside);

        // act
        var allowed = PathPolicy.IsAllowed(Path.Combine(root, "link", "file.bin"), [root]);

        // assert
        Assert.False(allowed);
    }

    [Fact]
    public void Add_files_outside_the_allowed_roots_is_E_ACCESSDENIED()
    {
        // arrange
        var root = _dir.Sub("root");
        var settings = QmgrSettings.Create(Akka.Configuration.ConfigurationFactory.ParseString($"qmgr.paths.allowed-roots = [\"{root}\"]"));
        var g = Guid.NewGuid();
        var j = Guid.NewGuid();
        var state = new Qmgr.Groups.IGroupEvent[]
        {
            new Qmgr.Groups.GroupEvents.GroupCreated(g, "svc", "g", Qmgr.Jobs.JobPriority.Normal, 0, DateTimeOffset.UnixEpoch),
            new Qmgr.Groups.GroupEvents.JobCreated(j, "j", Qmgr.Jobs.JobPriority.Normal, Qmgr.Jobs.JobOptions.Default, TimeSpan.FromMinutes(10), TimeSpan.FromDays(14), TimeSpan.FromDays(90), DateTimeOffset.UnixEpoch),
        }.Aggregate(Qmgr.Groups.GroupState.Empty(g), (s, e) => s.Apply(e));

        // act
        var (outside, _) = Qmgr.Groups.GroupDecisions.Decide(state, new Qmgr.Groups.GroupCommands.AddFiles(g, "svc", j, [new("http://h/x", "/tmp/x.bin")]), DateTimeOffset.UnixEpoch, settings);
        var (inside, events) = Qmgr.Groups.GroupDecisions.Decide(state, new Qmgr.Groups.GroupCommands.AddFiles(g, "svc", j, [new("http://h/x", Path.Combine(root, "x.bin"))]), DateTimeOffset.UnixEpoch, settings);

        // assert
        Assert.Equal(HResults.E_ACCESSDENIED, outside.HResult);
        Assert.Equal(ResultCode.Ok, inside.Code);
        Assert.Single(events);
    }
}
