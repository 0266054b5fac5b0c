using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Qmgr.Api;

namespace Qmgr.Host.Service;

/// <summary>
/// Every error of the API as RFC 9457 problem details (<c>application/problem+json</c>): <c>status</c>, a <c>title</c>,
/// the one-line reason in <c>detail</c>, and the BITS facts as extensions — <c>hresult</c> (a number), <c>code</c>
/// (<c>0x8XXXXXXX</c>) and <c>errorContext</c> (BG_ERROR_CONTEXT name; GeneralQueueManager for refused calls).
/// HRESULT → status: BG_E_NOT_FOUND and BG_E_ERROR_INFORMATION_UNAVAILABLE 404; E_ACCESSDENIED 403; BG_E_INVALID_STATE,
/// the read-only and too-many families and E_FILE_EXISTS 409; everything else a caller sent wrong 400.
/// </summary>
public static class Problems
{
    /// <summary>The HTTP status for a refusal with <paramref name="hresult"/>.</summary>
    public static int StatusOf(int hresult) => hresult switch
    {
        HResults.BG_E_NOT_FOUND or HResults.BG_E_ERROR_INFORMATION_UNAVAILABLE => StatusCodes.Status404NotFound,
        HResults.E_ACCESSDENIED => StatusCodes.Status403Forbidden,
        HResults.BG_E_INVALID_STATE or HResults.BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE or HResults.BG_E_READ_ONLY_PROPERTY_AFTER_RESUME
            or HResults.BG_E_READ_ONLY_PROPERTY or HResults.BG_E_READ_ONLY_WHEN_JOB_ACTIVE or HResults.BG_E_TOO_MANY_JOBS_PER_USER
            or HResults.BG_E_TOO_MANY_FILES_IN_JOB or HResults.BG_E_TOO_MANY_FILES or HResults.E_FILE_EXISTS or HResults.BG_E_EMPTY
            => StatusCodes.Status409Conflict,
        Client.HttpQueueManager.ServiceUnavailable or HResults.ERROR_TIMEOUT => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status400BadRequest,
    };

    /// <summary>A problem result for a refused call.</summary>
    public static IResult From(QmgrException ex, int? status = null) => Result(status ?? StatusOf(ex.HResult), ex.HResult, ex.Message);

    /// <summary>A problem result with <paramref name="status"/>, <paramref name="hresult"/> and the one-line <paramref name="detail"/>.</summary>
    public static IResult Result(int status, int hresult, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: status, extensions: Extensions(hresult));

    /// <summary>400 E_INVALIDARG naming what was wrong.</summary>
    public static IResult BadRequest(string detail) => Result(StatusCodes.Status400BadRequest, HResults.E_INVALIDARG, detail);

    /// <summary>Writes a problem answer directly (authentication challenges, the rate limiter).</summary>
    public static Task WriteAsync(HttpContext context, int status, int hresult, string detail)
    {
        context.Response.StatusCode = status;
        return context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails { Status = status, Detail = detail, Extensions = Extensions(hresult) },
        }).AsTask();
    }

    private static Dictionary<string, object?> Extensions(int hresult) => new()
    {
        ["hresult"] = hresult,
        ["code"] = $"0x{hresult:X8}",
        ["errorContext"] = nameof(Transport.ErrorContext.GeneralQueueManager),
    };

    /// <summary>Adds the BITS extensions to problems ASP.NET Core writes itself (a malformed body: 400 E_INVALIDARG;
    /// 413; 415; 404 of an unknown route).</summary>
    public static void Customize(ProblemDetailsContext context)
    {
        var extensions = context.ProblemDetails.Extensions;
        if (extensions.ContainsKey("hresult")) return;
        var status = context.ProblemDetails.Status ?? context.HttpContext.Response.StatusCode;
        var hresult = status switch
        {
            StatusCodes.Status404NotFound => HResults.BG_E_NOT_FOUND,
            StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden => HResults.E_ACCESSDENIED,
            StatusCodes.Status429TooManyRequests => unchecked((int)0x800700AA), // HRESULT_FROM_WIN32(ERROR_BUSY)
            >= 500 => HResults.E_FAIL,
            _ => HResults.E_INVALIDARG,
        };
        foreach (var (key, value) in Extensions(hresult)) extensions[key] = value;
        // a malformed body: name what was wrong (System.Text.Json's line names the JSON path) instead of the generic title
        if (context.Exception is BadHttpRequestException bad)
            context.ProblemDetails.Detail = bad.InnerException is System.Text.Json.JsonException json
                ? $"malformed JSON body: {json.Message.Split('\n')[0]}"
                : bad.Message;
        if (status == StatusCodes.Status415UnsupportedMediaType)
            context.ProblemDetails.Detail ??= "the body must be JSON: send Content-Type: application/json";
    }

    /// <summary>Turns a <see cref="QmgrException"/> escaping an endpoint into its problem answer (the one place refusals are mapped).</summary>
    public sealed class QmgrExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
        {
            if (exception is BadHttpRequestException bad)
            {
                context.Response.StatusCode = bad.StatusCode;
                return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, Exception = bad });
            }
            if (exception is not QmgrException ex) return false;
            var status = StatusOf(ex.HResult);
            context.Response.StatusCode = status;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = new ProblemDetails { Status = status, Detail = ex.Message, Extensions = Extensions(ex.HResult) },
            });
        }
    }
}
