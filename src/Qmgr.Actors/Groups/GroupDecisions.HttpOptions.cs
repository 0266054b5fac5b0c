using Qmgr.Jobs;
using static Qmgr.Groups.GroupCommands;
using static Qmgr.Groups.GroupEvents;

namespace Qmgr.Groups;

// IBackgroundCopyJobHttpOptions2 (SetHttpMethod) and IBackgroundCopyJobHttpOptions3 (MakeCustomHeadersWriteOnly, the
// journaled half of SetServerCertificateValidationInterface): the rules of bits-spec §2.9.
public static partial class GroupDecisions
{
    /// <summary>The default HTTP method of a download job (BITS GetHttpMethod answers it when none was set).</summary>
    public const string DefaultHttpMethod = "GET";

    /// <summary>True for an HTTP method token (RFC 9110 §9.1: a token of tchar, 1 character or more).</summary>
    public static bool IsHttpMethodToken(string text) =>
        text.Length > 0 && text.All(c => c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9'
            or '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~');

    private static (CommandResult, IGroupEvent[]) DecideHttpOptions(Job job, SetJobProperty set, DateTimeOffset now)
    {
        var text = set.Value.Trim();
        switch (set.Property)
        {
            case JobProperty.HttpMethod:
                // "SetHttpMethod does nothing if the method name matches the default HTTP method for the transfer type"
                if (text == DefaultHttpMethod) return (CommandResult.NoOp, []);
                // uploads speak the BITS Upload Protocol (BITS_POST packets); a download verb means nothing to them
                if (job.Type != JobType.Download)
                    return Refuse(HResults.E_NOTIMPL, "SetHttpMethod applies to download jobs only");
                if (job.Resumed)
                    return Refuse(HResults.BG_E_READ_ONLY_PROPERTY_AFTER_RESUME, "the HTTP method can be set only before the first Resume");
                if (!IsHttpMethodToken(text))
                    return Refuse(HResults.E_INVALIDARG, $"'{set.Value}' is not an HTTP method token (RFC 9110 §9.1)");
                if (job.Properties5.DynamicContent)
                    return Refuse(HResults.BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD, "a DYNAMIC_CONTENT job cannot have a custom HTTP method");
                if (job.Properties5.OnDemandMode)
                    return Refuse(HResults.BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD, "an ON_DEMAND_MODE job cannot have a custom HTTP method");
                if (job.HttpMethod == text) return (CommandResult.NoOp, []);
                IGroupEvent method = new JobPropertyChanged(job.Id, JobProperty.HttpMethod, text, now);
                // BITS changes the priority to Foreground and prevents it from being changed
                return job.Priority == JobPriority.Foreground
                    ? (CommandResult.Ok, [method])
                    : (CommandResult.Ok, [method, new JobPropertyChanged(job.Id, JobProperty.Priority, nameof(JobPriority.Foreground), now)]);

            case JobProperty.CustomHeadersWriteOnly:
                if (!bool.TryParse(text, out var writeOnly))
                    return Refuse(HResults.E_INVALIDARG, "CustomHeadersWriteOnly must be true or false");
                if (!writeOnly && job.CustomHeadersWriteOnly)
                    return Refuse(HResults.E_INVALIDARG, "write-only custom headers cannot be made readable again (MakeCustomHeadersWriteOnly is irreversible)");
                return writeOnly == job.CustomHeadersWriteOnly
                    ? (CommandResult.NoOp, [])
                    : (CommandResult.Ok, [new JobPropertyChanged(job.Id, JobProperty.CustomHeadersWriteOnly, "true", now)]);

            default:
                if (!bool.TryParse(text, out var validate))
                    return Refuse(HResults.E_INVALIDARG, "ServerCertificateValidation must be true or false");
                if (job.State.IsActive())
                    return Refuse(HResults.BG_E_READ_ONLY_WHEN_JOB_ACTIVE, $"the certificate validation callback can be set only while the job is not active (it is {job.State})");
                return validate == job.ServerCertificateValidation
                    ? (CommandResult.NoOp, [])
                    : (CommandResult.Ok, [new JobPropertyChanged(job.Id, JobProperty.ServerCertificateValidation, validate ? "true" : "false", now)]);
        }

        static (CommandResult, IGroupEvent[]) Refuse(int hr, string message) => (CommandResult.Rejected(hr, message), []);
    }
}
