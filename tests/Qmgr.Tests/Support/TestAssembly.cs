using System.Runtime.CompilerServices;

namespace Qmgr.Tests.Support;

/// <summary>Process-wide settings the specs need before any of them runs.</summary>
internal static class TestAssembly
{
    /// <summary>
    /// .NET's managed NTLM (as every Qmgr host sets it): .NET reads the switch once per process, at the first use of
    /// System.Net.Security's Negotiate support — and the PostgreSQL fixtures' Npgsql connections (GSS encryption probe)
    /// can come before any Qmgr host, in an order set by xunit's parallel classes.
    /// </summary>
    [ModuleInitializer]
    internal static void Initialize() => Qmgr.Hosting.QmgrHostingExtensions.UseManagedNtlm();
}
