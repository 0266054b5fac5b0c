using System.CommandLine;
using System.Runtime.CompilerServices;

namespace Qmgr.Host.Cli.Verbs;

/// <summary>Arguments shared by the verbs. Id arguments are checked (<see cref="CheckIds"/>) before a verb connects, so a
/// mistyped id starts no node and creates no store.</summary>
public static class Args
{
    private static readonly ConditionalWeakTable<Argument, string> IdKinds = new();

    /// <summary><c>JOB</c>: a job id or an unambiguous prefix of it (<see cref="Resolve"/>).</summary>
    public static Argument<string> Job() => Id(new Argument<string>("JOB") { Description = "job id, or a prefix of it of at least 4 hex digits" }, "job");

    /// <summary><c>GROUP</c>: a group id or an unambiguous prefix of it.</summary>
    public static Argument<string> Group(string name = "GROUP") => Id(new Argument<string>(name) { Description = "group id, or a prefix of it of at least 4 hex digits" }, "group");

    private static Argument<string> Id(Argument<string> argument, string kind)
    {
        IdKinds.Add(argument, kind);
        return argument;
    }

    /// <summary>Refuses (exit 2) an id argument of the parsed command that is not an id or a prefix of 4 to 32 hex digits.</summary>
    public static void CheckIds(ParseResult parse)
    {
        foreach (var argument in parse.CommandResult.Command.Arguments)
            if (IdKinds.TryGetValue(argument, out var kind) && parse.GetValue((Argument<string>)argument) is { } text)
                Resolve.Hex(text, kind);
    }
}
