using Qmgr.Transport;
using System.Globalization;
using Qmgr.Jobs;
using static Qmgr.Groups.GroupCommands;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Groups;

// AddFileWithRanges (IBackgroundCopyJob3) and the IBackgroundCopyJob5 properties: the rules of bits-spec §2.9 and §2.10.
public static partial class GroupDecisions
{
    /// <summary>
    /// Why <paramref name="ranges"/> cannot be the ranges of one file, as BITS's AddFileWithRanges answers it, or null:
    /// E_INVALIDARG (none), BG_E_TOO_MANY_RANGES_IN_FILE (over <paramref name="maxRanges"/>, unless
    /// <paramref name="administrator"/>), BG_E_INVALID_RANGE (offset BG_LENGTH_TO_EOF or past 2^63, length 0 or an end
    /// past 2^63), BG_E_OVERLAPPING_RANGES (two ranges repeat or overlap once sorted by offset; a BG_LENGTH_TO_EOF range
    /// overlaps every range after it).
    /// </summary>
    public static (int HResult, string Message)? RangesError(IReadOnlyList<FileRange>? ranges, int maxRanges, bool administrator)
    {
        if (ranges is null || ranges.Count == 0) return (HResults.E_INVALIDARG, "AddFileWithRanges needs at least one range");
        if (ranges.Count > maxRanges && !administrator)
            return (HResults.BG_E_TOO_MANY_RANGES_IN_FILE, $"{ranges.Count} ranges: a file takes at most {maxRanges} (qmgr.limits.max-ranges-per-file)");
        foreach (var r in ranges)
        {
            if (r.InitialOffset == FileRange.LengthToEof || r.InitialOffset < 0)
                return (HResults.BG_E_INVALID_RANGE, $"range offset {(ulong)r.InitialOffset} is not a byte offset (BG_LENGTH_TO_EOF is only a length)");
            if (r.Length == 0 || (r.Length < 0 && !r.ToEndOfFile) || (!r.ToEndOfFile && r.InitialOffset > long.MaxValue - r.Length))
                return (HResults.BG_E_INVALID_RANGE, $"range {r.InitialOffset}:{(ulong)r.Length}: the length must be > 0 (or BG_LENGTH_TO_EOF) and end before 2^63");
        }
        // stable sort: ranges with the same offset keep the order given (bits-spec §2.10)
        var sorted = ranges.OrderBy(r => r.InitialOffset).ToList();
        for (var i = 1; i < sorted.Count; i++)
        {
            var (a, b) = (sorted[i - 1], sorted[i]);
            if (a.ToEndOfFile || b.InitialOffset < a.InitialOffset + a.Length)
                return (HResults.BG_E_OVERLAPPING_RANGES, $"ranges {Show(a)} and {Show(b)} overlap");
        }
        return null;

        static string Show(FileRange r) => r.ToEndOfFile ? $"{r.InitialOffset}:eof" : $"{r.InitialOffset}:{r.Length}";
    }

    private static (CommandResult, IGroupEvent[]) DecideAddFileWithRanges(Job job, AddFileWithRanges add, DateTimeOffset now, QmgrSettings settings)
    {
        if (job.Type != JobType.Download)
            return (CommandResult.Rejected(HResults.E_NOTIMPL, "AddFileWithRanges is for download jobs only"), []);
        if (job.Properties5.DynamicContent)
            return (CommandResult.Rejected(HResults.BG_E_INVALID_STATE, "a DYNAMIC_CONTENT job cannot take ranges"), []);
        if (job.Properties5.OnDemandMode)
            return (CommandResult.Rejected(HResults.BG_E_INVALID_STATE, "an ON_DEMAND_MODE job takes whole files (ask for ranges with RequestFileRanges)"), []);
        if (RangesError(add.Ranges, settings.MaxRangesPerFile, add.Administrator) is { } bad)
            return (CommandResult.Rejected(bad.HResult, bad.Message), []);
        var (result, events) = DecideAddFiles(job, new AddFiles(add.GroupId, add.Caller, add.JobId, [add.File]), now, settings);
        if (result.Code == ResultCode.Rejected) return (result, []);
        var file = ((FilesAdded)events.Single()).Files.Single();
        return (CommandResult.Ok, [new FileWithRangesAdded(job.Id, file, add.Ranges, now)]);
    }

    /// <summary>True for the IBackgroundCopyJob5 properties decided by <see cref="DecideJob5Property"/>.</summary>
    public static bool IsJob5Property(JobProperty property) => property is JobProperty.CostFlags or JobProperty.NotificationClsid
        or JobProperty.DynamicContent or JobProperty.HighPerformance or JobProperty.MaxDownloadSize or JobProperty.UseStoredCredentials
        or JobProperty.MinimumNotificationInterval or JobProperty.OnDemandMode;

    /// <summary>The invariant text of a Job5 property as <see cref="GroupState.Apply"/> reads it (see <see cref="JobProperty"/>).</summary>
    public static string Job5Text(Job5Properties p, JobProperty property) => property switch
    {
        JobProperty.CostFlags => p.CostFlags.ToString(CultureInfo.InvariantCulture),
        JobProperty.NotificationClsid => p.NotificationClsid == Guid.Empty ? "" : p.NotificationClsid.ToString("D"),
        JobProperty.DynamicContent => p.DynamicContent ? "true" : "false",
        JobProperty.HighPerformance => p.HighPerformance ? "true" : "false",
        JobProperty.MaxDownloadSize => p.MaxDownloadSize is { } max ? max.ToString(CultureInfo.InvariantCulture) : ulong.MaxValue.ToString(CultureInfo.InvariantCulture),
        JobProperty.UseStoredCredentials => ((int?)p.UseStoredCredentials ?? 0).ToString(CultureInfo.InvariantCulture),
        JobProperty.MinimumNotificationInterval => p.MinimumNotificationIntervalMs.ToString(CultureInfo.InvariantCulture),
        JobProperty.OnDemandMode => p.OnDemandMode ? "true" : "false",
        _ => throw new ArgumentOutOfRangeException(nameof(property), property, "not an IBackgroundCopyJob5 property"),
    };

    private static (CommandResult, IGroupEvent[]) DecideJob5Property(Job job, SetJobProperty set, DateTimeOffset now)
    {
        var inv = CultureInfo.InvariantCulture;
        var text = set.Value.Trim();
        if (job.Type != JobType.Download && set.Property is JobProperty.DynamicContent or JobProperty.HighPerformance or JobProperty.MaxDownloadSize or JobProperty.OnDemandMode)
            return Refuse(HResults.BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY, $"{set.Property} applies to download jobs only");
        string value;
        switch (set.Property)
        {
            case JobProperty.CostFlags:
                if (!uint.TryParse(text, NumberStyles.None, inv, out var cost))
                    return Refuse(HResults.E_INVALIDARG, "CostFlags must be a 32-bit unsigned integer (BITS_JOB_TRANSFER_POLICY / BITS_COST_STATE bits)");
                value = cost.ToString(inv);
                break;
            case JobProperty.NotificationClsid:
                if (text.Length > 0 && !Guid.TryParse(text, out _))
                    return Refuse(HResults.E_INVALIDARG, "NotificationClsid must be a GUID or empty");
                var clsid = text.Length == 0 ? Guid.Empty : Guid.Parse(text);
                value = clsid == Guid.Empty ? "" : clsid.ToString("D");
                break;
            case JobProperty.DynamicContent:
                if (job.Resumed)
                    return Refuse(HResults.BG_E_READ_ONLY_PROPERTY_AFTER_RESUME, "DYNAMIC_CONTENT can be set only before the first Resume");
                if (!bool.TryParse(text, out var dynamic))
                    return Refuse(HResults.E_INVALIDARG, "DynamicContent must be true or false");
                if (dynamic && job.HttpMethod is { } verb)
                    return Refuse(HResults.BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD, $"a job with HTTP method {verb} cannot be DYNAMIC_CONTENT");
                if (dynamic && job.Files.Any(f => f.Ranges is not null))
                    return Refuse(HResults.BG_E_INVALID_STATE, "a job with ranged files (AddFileWithRanges) cannot be DYNAMIC_CONTENT");
                if (dynamic && job.Properties5.OnDemandMode)
                    return Refuse(HResults.BG_E_INVALID_STATE, "an ON_DEMAND_MODE job cannot be DYNAMIC_CONTENT");
                value = dynamic ? "true" : "false";
                break;
            case JobProperty.HighPerformance:
                if (!job.Files.IsEmpty)
                    return Refuse(HResults.BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE, "HIGH_PERFORMANCE can be set only before the first AddFile");
                if (!bool.TryParse(text, out var fast))
                    return Refuse(HResults.E_INVALIDARG, "HighPerformance must be true or false");
                value = fast ? "true" : "false";
                break;
            case JobProperty.MaxDownloadSize:
                if (job.Resumed)
                    return Refuse(HResults.BG_E_READ_ONLY_PROPERTY_AFTER_RESUME, "MAX_DOWNLOAD_SIZE can be set only before the first Resume");
                if (!ulong.TryParse(text, NumberStyles.None, inv, out var max) || max == 0)
                    return Refuse(HResults.BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE, $"MAX_DOWNLOAD_SIZE must be a byte count from 1 to {ulong.MaxValue} (unlimited)");
                value = (max >= long.MaxValue ? ulong.MaxValue : max).ToString(inv);
                break;
            case JobProperty.UseStoredCredentials:
                if (!int.TryParse(text, NumberStyles.None, inv, out var target) || target is not (0 or (int)AuthTarget.Server or (int)AuthTarget.Proxy))
                    return Refuse(HResults.E_INVALIDARG, "UseStoredCredentials must be 0 (off) or a BG_AUTH_TARGET");
                if (target == (int)AuthTarget.Server)
                    return Refuse(HResults.BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED, "stored credentials are supported for the proxy only (BG_AUTH_TARGET_PROXY)");
                value = target.ToString(inv);
                break;
            case JobProperty.MinimumNotificationInterval:
                if (!uint.TryParse(text, NumberStyles.None, inv, out var ms))
                    return Refuse(HResults.E_INVALIDARG, "MinimumNotificationInterval must be whole milliseconds from 0 to 4294967295");
                value = ms.ToString(inv);
                break;
            case JobProperty.OnDemandMode:
                if (job.Resumed)
                    return Refuse(HResults.BG_E_READ_ONLY_PROPERTY_AFTER_RESUME, "ON_DEMAND_MODE can be set only before the first Resume");
                if (!bool.TryParse(text, out var onDemand))
                    return Refuse(HResults.E_INVALIDARG, "OnDemandMode must be true or false");
                if (onDemand && job.Properties5.DynamicContent)
                    return Refuse(HResults.BG_E_INVALID_STATE, "a DYNAMIC_CONTENT job cannot be ON_DEMAND_MODE (random access needs a file of fixed size)");
                if (onDemand && job.HttpMethod is not null)
                    return Refuse(HResults.BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD, "a job with a custom HTTP method cannot be ON_DEMAND_MODE");
                if (onDemand && job.Files.Any(f => f.Ranges is not null))
                    return Refuse(HResults.BG_E_INVALID_STATE, "a job with ranged files (AddFileWithRanges) cannot be ON_DEMAND_MODE");
                value = onDemand ? "true" : "false";
                break;
            default:
                return Refuse(HResults.E_INVALIDARG, $"{set.Property} is not an IBackgroundCopyJob5 property");
        }
        return Job5Text(job.Properties5, set.Property) == value
            ? (CommandResult.NoOp, [])
            : (CommandResult.Ok, [new JobPropertyChanged(job.Id, set.Property, value, now)]);

        static (CommandResult, IGroupEvent[]) Refuse(int hr, string message) => (CommandResult.Rejected(hr, message), []);
    }
}
