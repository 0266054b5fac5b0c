using Akka.Configuration;

namespace Qmgr.Host.Service;

/// <summary>One bearer token of <c>qmgr.api.tokens</c>: the owner it acts for and whether it is an administrator.</summary>
public sealed record ApiToken(string Token, string Owner, bool Administrator);

/// <summary>
/// The <c>qmgr.api</c> and <c>qmgr.telemetry</c> HOCON sections (every key documented in hocon/qmgr.conf), read once. Sizes in bytes, rates in
/// requests per second.
/// </summary>
public sealed record ServiceSettings(
    string Urls,
    string? CertificatePath,
    string? CertificatePassword,
    IReadOnlyList<ApiToken> Tokens,
    long MaxRequestBodyBytes,
    int RequestsPerSecond,
    int RequestBurst,
    TimeSpan MinimumNotificationInterval,
    int EventBuffer,
    bool Prometheus,
    string? OtlpEndpoint)
{
    /// <summary>Reads <c>qmgr.api</c> from <paramref name="root"/> laid over the embedded defaults. Throws
    /// <see cref="ConfigurationException"/> for a token without text or owner.</summary>
    public static ServiceSettings Create(Config? root)
    {
        var qmgr = (root ?? Config.Empty).WithFallback(QmgrSettings.DefaultConfig()).GetConfig("qmgr");
        var c = qmgr.GetConfig("api");
        var tokens = c.GetValue("tokens")?.GetArray().Select(v =>
        {
            var t = v.GetObject();
            var token = t.GetKey("token")?.GetString();
            var owner = t.GetKey("owner")?.GetString();
            if (string.IsNullOrWhiteSpace(token) || string.IsNullOrWhiteSpace(owner))
                throw new ConfigurationException("every qmgr.api.tokens entry needs a token and an owner");
            return new ApiToken(token, owner, t.GetKey("administrator")?.GetBoolean() ?? false);
        }).ToList() ?? [];
        return new ServiceSettings(
            c.GetString("urls"),
            NullIfEmpty(c.GetString("certificate-path")),
            NullIfEmpty(c.GetString("certificate-password")),
            tokens,
            c.GetLong("max-request-body-bytes"),
            c.GetInt("requests-per-second"),
            c.GetInt("request-burst"),
            c.GetTimeSpan("minimum-notification-interval"),
            c.GetInt("event-buffer"),
            qmgr.GetBoolean("telemetry.prometheus"),
            NullIfEmpty(qmgr.GetString("telemetry.otlp-endpoint")));
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
