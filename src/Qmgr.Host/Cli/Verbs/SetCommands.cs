using System.CommandLine;
using System.Globalization;
using Qmgr.Api;
using Qmgr.Groups;
using Qmgr.Jobs;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>
/// The property setters, after bitsadmin <c>/set*</c>: <c>setpriority</c>, <c>setdisplayname</c>, <c>setdescription</c>,
/// <c>setminretrydelay</c>, <c>setnoprogresstimeout</c>, <c>setnotifyflags</c>, <c>setcustomheaders</c>,
/// <c>setcredentials</c> (job properties through <see cref="IJob"/>) and <c>setmaxbandwidth</c> (the group's
/// MaxBytesPerSecond through <see cref="IGroup"/>). Durations take plain seconds or s/m/h/d suffixes, rates K/M/G
/// suffixes (<see cref="CliValues"/>). Each prints one line (<c>--json</c>: <c>{job|group, property, value}</c>); the
/// model's limits and floors apply (e.g. a minimum retry delay under 5 s is raised to 5 s), so <c>info</c> shows the
/// value in force.
/// </summary>
public static class SetCommands
{
    public static Command SetPriority(CliConnection connection) =>
        JobSetter(connection, "setpriority", "Set a job's priority: foreground, high, normal or low (like bitsadmin /setpriority)", "PRIORITY",
            JobProperty.Priority, text => CliValues.Priority(text).ToString());

    public static Command SetDisplayName(CliConnection connection) =>
        JobSetter(connection, "setdisplayname", "Set a job's display name (like bitsadmin /setdisplayname)", "NAME", JobProperty.DisplayName, text => text);

    public static Command SetDescription(CliConnection connection) =>
        JobSetter(connection, "setdescription", "Set a job's description (like bitsadmin /setdescription)", "TEXT", JobProperty.Description, text => text);

    public static Command SetMinRetryDelay(CliConnection connection) =>
        JobSetter(connection, "setminretrydelay", "Set how long a job waits in TransientError before retrying (like bitsadmin /setminretrydelay; 5 s at least)",
            "SECONDS", JobProperty.MinimumRetryDelay, text => Seconds(text, "the minimum retry delay"));

    public static Command SetNoProgressTimeout(CliConnection connection) =>
        JobSetter(connection, "setnoprogresstimeout", "Set how long a job may stay in transient errors without progress before Error (like bitsadmin /setnoprogresstimeout)",
            "SECONDS", JobProperty.NoProgressTimeout, text => Seconds(text, "the no-progress timeout"));

    public static Command SetNotifyFlags(CliConnection connection) =>
        JobSetter(connection, "setnotifyflags", "Set a job's BG_NOTIFY_* flags, decimal or 0x hexadecimal (like bitsadmin /setnotifyflags)",
            "FLAGS", JobProperty.NotifyFlags, text => CliValues.Integer(text, "FLAGS").ToString(CultureInfo.InvariantCulture));

    public static Command SetCustomHeaders(CliConnection connection)
    {
        var job = Args.Job();
        var headers = new Argument<string[]>("HEADER") { Description = "one 'Name: value' line each; none clears the headers", Arity = ArgumentArity.ZeroOrMore };
        return Verb.Create(connection, "setcustomheaders", "Set the custom HTTP headers sent with a job's requests, stored encrypted (like bitsadmin /setcustomheaders)", job, headers)
            .WithAction(connection, parse =>
            {
                var lines = parse.GetValue(headers) ?? [];
                foreach (var line in lines)
                    if (line.IndexOf(':') <= 0 || line.Contains('\r') || line.Contains('\n'))
                        throw CliError.Usage($"a header is one 'Name: value' line: {line}");
                return lines;
            }, async (parse, qm, lines, ct) =>
            {
                var found = await Resolve.JobAsync(qm, parse.GetValue(job)!, includeFinal: false, ct);
                await found.Handle.SetCustomHeadersAsync(lines.Length == 0 ? null : string.Join("\r\n", lines), ct);
                // the values may be secrets (tokens): never echoed
                var what = lines.Length == 0 ? "cleared" : $"{lines.Length} line{(lines.Length == 1 ? "" : "s")}";
                return Done(connection, parse, new { job = found.Job.Id, property = "CustomHeaders", value = what }, $"job {found.Job.Id:D}: custom headers {what}");
            });
    }

    public static Command SetCredentials(CliConnection connection)
    {
        var job = Args.Job();
        var target = new Argument<string>("TARGET") { Description = "server or proxy" };
        var scheme = new Argument<string>("SCHEME") { Description = "basic, digest, ntlm or negotiate" };
        var user = new Argument<string>("USER") { Description = "user name (NTLM: DOMAIN\\user)" };
        var password = new Argument<string>("PASSWORD") { Description = "password (stored encrypted, never shown again)" };
        return Verb.Create(connection, "setcredentials", "Set the credentials a job answers a server's or proxy's challenge with (like bitsadmin /setcredentials)",
                job, target, scheme, user, password)
            .WithAction(connection, parse =>
            {
                var t = CliValues.Name<AuthTarget>(parse.GetValue(target)!, "TARGET");
                var s = CliValues.Name<AuthScheme>(parse.GetValue(scheme)!, "SCHEME");
                if (s == AuthScheme.Passport) throw CliError.Usage("SCHEME must be basic, digest, ntlm or negotiate (Passport is never sent)");
                return (t, s);
            }, async (parse, qm, ts, ct) =>
            {
                var (t, s) = ts;
                var found = await Resolve.JobAsync(qm, parse.GetValue(job)!, includeFinal: false, ct);
                await found.Handle.SetCredentialsAsync(t, s, parse.GetValue(user)!, parse.GetValue(password)!, ct);
                var what = $"{t.ToString().ToLowerInvariant()} {s.ToString().ToLowerInvariant()}";
                return Done(connection, parse, new { job = found.Job.Id, property = "Credentials", value = what }, $"job {found.Job.Id:D}: {what} credentials set");
            });
    }

    public static Command SetMaxBandwidth(CliConnection connection)
    {
        var group = Args.Group();
        var rate = new Argument<string>("RATE") { Description = "bytes per second, K/M/G suffixes in powers of 1024 (10M = 10485760); 0 = no cap" };
        return Verb.Create(connection, "setmaxbandwidth", "Cap a group's bandwidth (its MaxBytesPerSecond)", group, rate)
            .WithAction(connection, parse => CliValues.Size(parse.GetValue(rate)!, "RATE"), async (parse, qm, bytes, ct) =>
            {
                var (g, _) = await Resolve.GroupAsync(qm, parse.GetValue(group)!, ct);
                await g.SetPropertyAsync(GroupProperty.MaxBytesPerSecond, bytes.ToString(CultureInfo.InvariantCulture), ct);
                return Done(connection, parse, new { group = g.Id, property = nameof(GroupProperty.MaxBytesPerSecond), value = bytes },
                    $"group {g.Id:D}: MaxBytesPerSecond = {bytes} ({(bytes == 0 ? "no cap" : Format.Bytes(bytes) + "/s")})");
            });
    }

    private static string Seconds(string text, string what) => CliValues.Seconds(text, what).ToString(CultureInfo.InvariantCulture);

    private static Command JobSetter(CliConnection connection, string name, string description, string valueName, JobProperty property, Func<string, string> value)
    {
        var job = Args.Job();
        var arg = new Argument<string>(valueName) { Description = description };
        return Verb.Create(connection, name, description, job, arg)
            .WithAction(connection, parse => value(parse.GetValue(arg)!), async (parse, qm, text, ct) =>
            {
                var found = await Resolve.JobAsync(qm, parse.GetValue(job)!, includeFinal: false, ct);
                await found.Handle.SetPropertyAsync(property, text, ct);
                return Done(connection, parse, new { job = found.Job.Id, property = property.ToString(), value = text }, $"job {found.Job.Id:D}: {property} = {text}");
            });
    }

    private static int Done(CliConnection connection, ParseResult parse, object json, string line)
    {
        if (parse.GetValue(connection.Json)) Verb.WriteJson(json);
        else Console.WriteLine(line);
        return ExitCodes.Done;
    }
}
