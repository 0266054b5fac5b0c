namespace Qmgr.Host.Cli;

/// <summary>CLI exit codes (DESIGN Decision 15).</summary>
public static class ExitCodes
{
    /// <summary>done.</summary>
    public const int Done = 0;
    /// <summary>transfer failed: job in Error, or cancelled.</summary>
    public const int Failed = 1;
    /// <summary>usage or bad input.</summary>
    public const int Usage = 2;
    /// <summary>data directory in use, or store error.</summary>
    public const int DataDirectory = 3;
    /// <summary>interrupted by Ctrl+C (the job is cancelled, as bitsadmin /transfer does).</summary>
    public const int Interrupted = 130;
}
