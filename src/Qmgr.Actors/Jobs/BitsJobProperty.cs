using System.Globalization;

namespace Qmgr.Jobs;

/// <summary>BITS <c>BITS_JOB_PROPERTY_ID</c> (IBackgroundCopyJob5, bits5_0.h / bits10_1.h); 6 and 8 are unused.</summary>
public enum BitsJobPropertyId
{
    CostFlags = 1,
    NotificationClsid = 2,
    DynamicContent = 3,
    HighPerformance = 4,
    MaxDownloadSize = 5,
    UseStoredCredentials = 7,
    MinimumNotificationIntervalMs = 9,
    OnDemandMode = 10,
}

/// <summary>
/// BITS <c>BITS_JOB_PROPERTY_VALUE</c>: the one field the property id selects — <see cref="Dword"/> (COST_FLAGS,
/// MINIMUM_NOTIFICATION_INTERVAL_MS), <see cref="ClsId"/> (NOTIFICATION_CLSID), <see cref="Enable"/> (DYNAMIC_CONTENT,
/// HIGH_PERFORMANCE, ON_DEMAND_MODE), <see cref="Uint64"/> (MAX_DOWNLOAD_SIZE, bytes) or <see cref="Target"/>
/// (USE_STORED_CREDENTIALS; 0 = off).
/// </summary>
public readonly record struct BitsJobPropertyValue(uint Dword = 0, Guid ClsId = default, bool Enable = false, ulong Uint64 = 0, AuthTarget Target = 0);

/// <summary>Maps IBackgroundCopyJob5 SetProperty / GetProperty onto <see cref="JobProperty"/> and its invariant text.</summary>
public static class BitsJobProperties
{
    /// <summary>The <see cref="JobProperty"/> of <paramref name="id"/>, or null for an id BITS does not define (BG_E_UNKNOWN_PROPERTY_ID).</summary>
    public static JobProperty? PropertyOf(BitsJobPropertyId id) => id switch
    {
        BitsJobPropertyId.CostFlags => JobProperty.CostFlags,
        BitsJobPropertyId.NotificationClsid => JobProperty.NotificationClsid,
        BitsJobPropertyId.DynamicContent => JobProperty.DynamicContent,
        BitsJobPropertyId.HighPerformance => JobProperty.HighPerformance,
        BitsJobPropertyId.MaxDownloadSize => JobProperty.MaxDownloadSize,
        BitsJobPropertyId.UseStoredCredentials => JobProperty.UseStoredCredentials,
        BitsJobPropertyId.MinimumNotificationIntervalMs => JobProperty.MinimumNotificationInterval,
        BitsJobPropertyId.OnDemandMode => JobProperty.OnDemandMode,
        _ => null,
    };

    /// <summary>The invariant text <c>SetJobProperty</c> takes for <paramref name="value"/>'s field that <paramref name="id"/> selects.</summary>
    public static string TextOf(BitsJobPropertyId id, BitsJobPropertyValue value) => id switch
    {
        BitsJobPropertyId.CostFlags or BitsJobPropertyId.MinimumNotificationIntervalMs => value.Dword.ToString(CultureInfo.InvariantCulture),
        BitsJobPropertyId.NotificationClsid => value.ClsId == Guid.Empty ? "" : value.ClsId.ToString("D"),
        BitsJobPropertyId.DynamicContent or BitsJobPropertyId.HighPerformance or BitsJobPropertyId.OnDemandMode => value.Enable ? "true" : "false",
        BitsJobPropertyId.MaxDownloadSize => value.Uint64.ToString(CultureInfo.InvariantCulture),
        _ => ((int)value.Target).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>The value of <paramref name="id"/> on <paramref name="job"/> (GetProperty); MAX_DOWNLOAD_SIZE is UINT64 max when unlimited.</summary>
    public static BitsJobPropertyValue ValueOf(Job job, BitsJobPropertyId id)
    {
        var p = job.Properties5;
        return id switch
        {
            BitsJobPropertyId.CostFlags => new(Dword: p.CostFlags),
            BitsJobPropertyId.MinimumNotificationIntervalMs => new(Dword: p.MinimumNotificationIntervalMs),
            BitsJobPropertyId.NotificationClsid => new(ClsId: p.NotificationClsid),
            BitsJobPropertyId.DynamicContent => new(Enable: p.DynamicContent),
            BitsJobPropertyId.HighPerformance => new(Enable: p.HighPerformance),
            BitsJobPropertyId.OnDemandMode => new(Enable: p.OnDemandMode),
            BitsJobPropertyId.MaxDownloadSize => new(Uint64: p.MaxDownloadSize is { } max ? (ulong)max : ulong.MaxValue),
            BitsJobPropertyId.UseStoredCredentials => new(Target: p.UseStoredCredentials ?? 0),
            _ => throw new ArgumentOutOfRangeException(nameof(id), id, "undefined BITS_JOB_PROPERTY_ID"),
        };
    }
}
