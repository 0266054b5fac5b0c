using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Qmgr.Jobs;
using Qmgr.Transport;

namespace Qmgr.Api;

/// <summary>BITS <c>BITS_FILE_PROPERTY_ID</c> (IBackgroundCopyFile5, bits5_0.h).</summary>
public enum BitsFilePropertyId
{
    /// <summary>The header block of the server's last response for the file (value: a string).</summary>
    HttpResponseHeaders = 1,
}

/// <summary>
/// A server certificate validation callback (BITS <c>IBackgroundCopyServerCertificateValidationCallback</c>), set with
/// <see cref="IJob.SetServerCertificateValidationInterfaceAsync"/>. Node-local and never persisted, as BITS forgets the
/// interface when the program exits: register it again after a restart.
/// </summary>
public interface IServerCertificateValidationCallback
{
    /// <summary>
    /// Called during each TLS handshake of the job's transfers on this node, after the certificate passed the checks
    /// under the job's security flags (a certificate that fails them never gets here), before any HTTP request is sent.
    /// Runs on the handshake's thread: keep it short and do not block on the queue manager.
    /// </summary>
    /// <param name="job">the job being transferred.</param>
    /// <param name="fileIndex">zero-based index of the file being transferred (BITS passes the IBackgroundCopyFile).</param>
    /// <param name="certificate">the server's certificate (BITS: certData, X.509 ASN encoding = <c>certificate.RawData</c>).</param>
    /// <param name="chain">the chain built for it (BITS: certStoreData), or null when none was built.</param>
    /// <returns>0 (S_OK) to accept; any other HRESULT refuses the connection and the job enters TransientError with that
    /// HRESULT and context <see cref="ErrorContext.ServerCertificateCallback"/>. An exception counts as a refusal with its HResult.</returns>
    int ValidateServerCertificate(IJob job, int fileIndex, X509Certificate2 certificate, X509Chain? chain);
}

/// <summary>
/// A job's error record (BITS <c>IBackgroundCopyError</c>), from <see cref="IJob.GetErrorAsync"/>: a snapshot of the
/// job as it was read. Descriptions are one-line English texts (BITS's LanguageId has no counterpart).
/// </summary>
public sealed class BackgroundCopyError
{
    private readonly Job _job;

    /// <summary>The error of <paramref name="job"/>; BG_E_ERROR_INFORMATION_UNAVAILABLE (QmgrException) when it has none
    /// (BITS keeps the record while the job is in Error or TransientError and until it next transfers).</summary>
    public BackgroundCopyError(Job job)
    {
        _job = job;
        Record = job.Error ?? throw new QmgrException(HResults.BG_E_ERROR_INFORMATION_UNAVAILABLE, $"job {job.Id:D} has no error record (state {job.State})");
    }

    /// <summary>The journaled record: context, HRESULT, HTTP status, message and file index.</summary>
    public JobError Record { get; }

    /// <summary>BITS <c>GetError</c>: where the error happened and its HRESULT.</summary>
    public (ErrorContext Context, int HResult) GetError() => (Record.Context, Record.HResult);

    /// <summary>BITS <c>GetFile</c>: the file the error is about; BG_E_FILE_NOT_AVAILABLE when it is not about a file.</summary>
    public JobFile GetFile() =>
        Record.FileIndex is int i && i >= 0 && i < _job.Files.Count
            ? _job.Files[i]
            : throw new QmgrException(HResults.BG_E_FILE_NOT_AVAILABLE, "the error is not tied to a file");

    /// <summary>BITS <c>GetErrorDescription</c>: the error's one-line description (the HTTP status and URL when a server answered).</summary>
    public string GetErrorDescription() => Record.Message;

    /// <summary>BITS <c>GetErrorContextDescription</c>: what the context means.</summary>
    public string GetErrorContextDescription() => ContextDescription(Record.Context);

    /// <summary>
    /// BITS <c>GetProtocol</c>: the protocol of the transfer that failed ("http" or "https", the file's URL scheme) when
    /// the error came from the transfer (contexts RemoteFile, GeneralTransport, ServerCertificateCallback) of a file;
    /// BG_E_PROTOCOL_NOT_AVAILABLE otherwise (queue manager, local file, notification errors).
    /// </summary>
    public string GetProtocol() =>
        Record.Context is ErrorContext.RemoteFile or ErrorContext.GeneralTransport or ErrorContext.ServerCertificateCallback
        && Record.FileIndex is int i && i >= 0 && i < _job.Files.Count
            ? new Uri(_job.Files[i].RemoteName).Scheme
            : throw new QmgrException(HResults.BG_E_PROTOCOL_NOT_AVAILABLE, $"a {Record.Context} error is not tied to a transfer protocol");

    /// <summary>A one-line English description of <paramref name="context"/> (after BITS's BG_E_ERROR_CONTEXT_* message texts).</summary>
    public static string ContextDescription(ErrorContext context) => context switch
    {
        ErrorContext.None => "There is no error context.",
        ErrorContext.GeneralQueueManager => "The error occurred in the queue manager.",
        ErrorContext.QueueManagerNotification => "The error occurred while the queue manager was notifying the program.",
        ErrorContext.LocalFile => "The error occurred while the local file was being processed.",
        ErrorContext.RemoteFile => "The error occurred while the remote file was being processed.",
        ErrorContext.GeneralTransport => "The error occurred in the transport layer: the client could not talk to the server.",
        ErrorContext.RemoteApplication => "The error occurred while the server application was processing the request.",
        ErrorContext.ServerCertificateCallback => "The error occurred in the server certificate validation callback.",
        _ => "The error context is unknown.",
    };
}

/// <summary>IBackgroundCopyFile3 / IBackgroundCopyFile4 peer members on a <see cref="JobFile"/>: Qmgr has no peer caching
/// (BranchCache), so every byte comes from the origin server.</summary>
public static class JobFilePeerMembers
{
    /// <summary>BITS <c>IsDownloadedFromPeer</c>: always false (no peer caching).</summary>
    public static bool IsDownloadedFromPeer(this JobFile file) => false;

    /// <summary>BITS <c>GetPeerDownloadStats</c>: bytes from the origin server (the file's bytes on disk) and from peers (0).</summary>
    public static (ulong FromOrigin, ulong FromPeers) GetPeerDownloadStats(this JobFile file) => ((ulong)file.BytesTransferred, 0);
}

/// <summary>
/// The node's server certificate validation callbacks by job id (BITS keeps them only while the program that set them
/// runs; here, while this actor system runs). The transfer actors of this node ask it during TLS handshakes.
/// </summary>
public sealed class ServerCertificateCallbacks : IExtension
{
    private readonly ConcurrentDictionary<Guid, (IJob Job, IServerCertificateValidationCallback Callback)> _callbacks = new();

    /// <summary>The registry of <paramref name="system"/>.</summary>
    public static ServerCertificateCallbacks For(ActorSystem system) => system.WithExtension<ServerCertificateCallbacks, Provider>();

    internal void Set(Guid jobId, (IJob, IServerCertificateValidationCallback)? callback)
    {
        if (callback is { } c) _callbacks[jobId] = c;
        else _callbacks.TryRemove(jobId, out _);
    }

    /// <summary>The callback registered on this node for <paramref name="jobId"/>, or null.</summary>
    public IServerCertificateValidationCallback? Get(Guid jobId) => _callbacks.TryGetValue(jobId, out var c) ? c.Callback : null;

    /// <summary>The transport's validator for file <paramref name="fileIndex"/> of <paramref name="jobId"/>, or null when no
    /// callback is registered on this node (the transfer then fails with BG_E_SERVER_CERT_VALIDATION_INTERFACE_REQUIRED).</summary>
    public Func<X509Certificate2, X509Chain?, int>? ValidatorFor(Guid jobId, int fileIndex) =>
        _callbacks.TryGetValue(jobId, out var c) ? (certificate, chain) => c.Callback.ValidateServerCertificate(c.Job, fileIndex, certificate, chain) : null;

    private sealed class Provider : ExtensionIdProvider<ServerCertificateCallbacks>
    {
        public override ServerCertificateCallbacks CreateExtension(ExtendedActorSystem system) => new();
    }
}
