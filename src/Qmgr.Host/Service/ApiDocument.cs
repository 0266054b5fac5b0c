using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Qmgr.Host.Service;

/// <summary>
/// The OpenAPI 3.1 document at <c>/openapi/v1.json</c>: title and description, the bearer scheme (RFC 6750) required by
/// every <c>/api/v1</c> operation and <c>/metrics</c> and by nothing else, an operation id per operation, and the RFC 9457
/// problem answers every API operation can give (400, 401, 403, 404, 409, 429) — what a standard linter (Redocly's
/// recommended rules) asks for.
/// </summary>
public static class ApiDocument
{
    private const string Scheme = "bearer";

    public static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Qmgr API";
            document.Info.Description = "BITS queue manager service: groups, jobs, files, verbs, server-sent events and webhooks. "
                + "Errors are RFC 9457 problem details with the BITS HRESULT (hresult, code) and errorContext.";
            // the server the document was asked from, without the trailing slash linters refuse
            foreach (var server in document.Servers ?? []) server.Url = server.Url?.TrimEnd('/');
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[Scheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "DATA_DIR/api-token (the local administrator) or a qmgr.api.tokens entry",
            };
            foreach (var (path, item) in document.Paths)
            {
                var secured = path.StartsWith("/api/", StringComparison.Ordinal) || path == "/metrics";
                foreach (var operation in item.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>())
                    operation.Security = secured
                        ? [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Scheme, document)] = [] }]
                        : [];
            }
            foreach (var tag in document.Tags ?? new HashSet<OpenApiTag>())
                tag.Description ??= $"{tag.Name} of the caller (another owner's are 404)";
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var route = context.Description.RelativePath ?? "";
            operation.OperationId ??= string.Concat(
                (context.Description.HttpMethod ?? "get").ToLowerInvariant(),
                string.Concat(route.Split('/', StringSplitOptions.RemoveEmptyEntries).Skip(route.StartsWith("api/v1", StringComparison.Ordinal) ? 2 : 0)
                    .Select(part => part.Trim('{', '}').Split(':')[0]).Select(part => char.ToUpperInvariant(part[0]) + part[1..].Replace("-", ""))));
            if (route.StartsWith("api/", StringComparison.Ordinal) || route == "metrics")
            {
                operation.Responses ??= new OpenApiResponses();
                foreach (var (status, text) in new[] { ("400", "Bad input (E_INVALIDARG, …)"), ("401", "No or unknown bearer token"),
                             ("403", "Not allowed (E_ACCESSDENIED)"), ("404", "No such group or job for this caller (BG_E_NOT_FOUND)"),
                             ("409", "Not in this state (BG_E_INVALID_STATE, …)"), ("429", "Over the token's request rate") })
                    if (!operation.Responses.ContainsKey(status))
                        operation.Responses[status] = new OpenApiResponse
                        {
                            Description = $"{text}: RFC 9457 problem details with hresult, code and errorContext",
                            Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() },
                        };
            }
            return Task.CompletedTask;
        });
    }
}
