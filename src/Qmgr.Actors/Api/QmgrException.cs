namespace Qmgr.Api;

/// <summary>
/// A refused call of the embedding API, carrying the BITS HRESULT in <see cref="Exception.HResult"/>
/// (BG_E_NOT_FOUND 0x80200001, BG_E_INVALID_STATE 0x80200002, BG_E_EMPTY 0x80200003, BG_E_STRING_TOO_LONG 0x80200021,
/// E_INVALIDARG 0x80070057, E_ACCESSDENIED 0x80070005, E_NOTIMPL 0x80004001, ...). Nothing was persisted.
/// </summary>
public sealed class QmgrException : Exception
{
    public QmgrException(int hresult, string message) : base(message) => HResult = hresult;

    /// <summary>Throws for a rejected <paramref name="result"/>; returns it otherwise (S_OK, BG_S_PARTIAL_COMPLETE, no-op).</summary>
    public static CommandResult ThrowIfRejected(CommandResult result) =>
        result.Code == ResultCode.Rejected ? throw new QmgrException(result.HResult, result.Message) : result;
}
