using System.Security.Cryptography.X509Certificates;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.RateLimiting;
using Qmgr.Api;
using Qmgr.Client;
using Qmgr.Hosting;
using Scalar.AspNetCore;

namespace Qmgr.Host.Service;

/// <summary>
/// <c>qmgr serve</c>'s web host: the node (<see cref="QmgrHost.AddQmgrNode"/>) and the REST API on Kestrel in one
/// process — <c>/api/v1</c> (bearer tokens, rate limited per token, RFC 9457 problems), <c>/openapi/v1.json</c>
/// (OpenAPI 3.1) and <c>/scalar/v1</c> (the reference page), <c>/health/live</c> and <c>/health/ready</c>.
/// </summary>
public static class ServiceHost
{
    /// <summary>
    /// Builds and starts the service on <paramref name="dataDir"/> (its lock already held) listening on
    /// <paramref name="urls"/> (null = <c>qmgr.api.urls</c>), with HOCON <paramref name="overrides"/> over the defaults
    /// (<c>qmgr serve</c> passes <c>QMGR_HOCON</c>). Creates DATA_DIR/api-token on first start. The addresses actually
    /// bound (port 0 picks one) are in <see cref="BoundAddresses"/>. <paramref name="node"/> chooses the store and the
    /// cluster (null = the SQLite store, a cluster of one). Throws what Kestrel throws when it cannot listen, and
    /// <see cref="NodeConfigurationException"/> for store or cluster settings that cannot work.
    /// </summary>
    public static async Task<WebApplication> StartAsync(DataDirectory dataDir, string? urls, Akka.Configuration.Config? overrides, CancellationToken cancellationToken, NodeArguments? node = null)
    {
        // a service runs for other callers: their notify command lines would run as the service's user, so they stay off
        // unless the operator turns them on (qmgr.job.allow-notify-cmdline = on)
        overrides = (overrides ?? Akka.Configuration.Config.Empty).WithFallback(Akka.Configuration.ConfigurationFactory.ParseString("qmgr.job.allow-notify-cmdline = off"));
        var settings = ServiceSettings.Create(overrides);
        var options = (node ?? new NodeArguments()).Resolve(dataDir, overrides);
        var adminToken = ServiceEndpoint.EnsureToken(dataDir);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = dataDir.Path, Args = [] });
        builder.Logging.ClearProviders();
        builder.Services.AddQmgrNode(options, akka => akka.WithQmgrHealthChecks());
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(new TokenStore([new ApiToken(adminToken, Environment.UserName, true), .. settings.Tokens]));

        builder.WebHost.UseUrls((urls ?? settings.Urls).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        builder.WebHost.UseKestrelHttpsConfiguration(); // the slim builder leaves https:// addresses out otherwise
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = settings.MaxRequestBodyBytes;
            kestrel.AddServerHeader = false;
            if (settings.CertificatePath is { } path)
                kestrel.ConfigureHttpsDefaults(https => https.ServerCertificate = X509CertificateLoader.LoadPkcs12FromFile(path, settings.CertificatePassword));
        });
        builder.Services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        // a malformed body reaches the exception handler, which names what was wrong in the problem's detail
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = Problems.Customize);
        builder.Services.AddExceptionHandler<Problems.QmgrExceptionHandler>();
        builder.Services.AddAuthentication(BearerTokenHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, BearerTokenHandler>(BearerTokenHandler.SchemeName, null);
        builder.Services.AddAuthorization();
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.OnRejected = (context, _) =>
                new ValueTask(Problems.WriteAsync(context.HttpContext, StatusCodes.Status429TooManyRequests, unchecked((int)0x800700AA),
                    $"more than {settings.RequestsPerSecond} requests per second for this token (qmgr.api.requests-per-second)"));
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                settings.RequestsPerSecond <= 0
                    ? RateLimitPartition.GetNoLimiter("")
                    : RateLimitPartition.GetTokenBucketLimiter(context.User.Identity?.Name ?? "anonymous", _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = Math.Max(settings.RequestBurst, 1),
                        TokensPerPeriod = settings.RequestsPerSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                    }));
        });
        builder.Services.AddOpenApi(ApiDocument.Configure);
        builder.Services.AddHealthChecks();
        if (settings.Prometheus || settings.OtlpEndpoint is not null)
            builder.Services.AddOpenTelemetry().WithMetrics(metrics =>
            {
                metrics.AddMeter(Telemetry.QmgrMetrics.MeterName).AddAspNetCoreInstrumentation().AddRuntimeInstrumentation();
                if (settings.Prometheus) metrics.AddPrometheusExporter();
                if (settings.OtlpEndpoint is { } endpoint) metrics.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint));
            });

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();

        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = c => c.Tags.Contains(QmgrHealthChecks.LiveTag) });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(QmgrHealthChecks.ReadyTag) });
        if (settings.Prometheus) app.MapPrometheusScrapingEndpoint("/metrics").RequireAuthorization();
        app.MapOpenApi();
        app.MapScalarApiReference();

        var api = app.MapGroup("/api/v1").RequireAuthorization();
        api.MapGet("/me", (HttpContext http) =>
        {
            var qm = http.QueueManager();
            return TypedResults.Ok(new CallerResource(qm.Caller, qm.IsAdministrator));
        }).WithTags("Caller").WithSummary("Who the token acts for");
        api.MapGroups();
        api.MapJobs();
        api.MapFiles();
        api.MapEvents();

        await app.StartAsync(cancellationToken);
        return app;
    }

    /// <summary>The addresses Kestrel bound (with the real port when 0 was asked for).</summary>
    public static IReadOnlyList<string> BoundAddresses(this WebApplication app) =>
        app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses.ToList() ?? [];
}
