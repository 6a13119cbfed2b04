using System.Buffers;
using Microsoft.AspNetCore.Http;
using Trellis.Eventing.Async;

namespace Trellis.ControlPlane.Eventing;

/// <summary>
/// OpenFaaS's async entry point: <c>POST /async-function/{name}[.{namespace}][/path]</c> queues the call
/// durably and answers 202 at once with its id (<c>X-Call-Id</c>); <c>X-Callback-Url</c>, when given,
/// receives the result. 404 for a function that is not a Knative Service, 400 for a callback that is
/// not an absolute http(s) URL, 413 past the size limit.
/// </summary>
internal sealed class AsyncEndpoint(AsyncQueue queue, EventingController controller, EventingOptions options, TimeProvider time)
{
    public async Task<IResult> HandleAsync(HttpContext context, string function, string? rest)
    {
        var dot = function.IndexOf('.', StringComparison.Ordinal);
        var (name, ns) = dot < 0 ? (function, "default") : (function[..dot], function[(dot + 1)..]);
        if (!controller.FunctionExists(ns, name))
        {
            return Results.Text($"function {name} not found in namespace {ns} (a Knative Service)", statusCode: StatusCodes.Status404NotFound);
        }

        var callback = context.Request.Headers["X-Callback-Url"].ToString();
        if (callback.Length > 0 && !(Uri.TryCreate(callback, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            return Results.Text($"X-Callback-Url \"{callback}\" is not an absolute http(s) URL", statusCode: StatusCodes.Status400BadRequest);
        }

        if (context.Request.ContentLength > options.MaxEventBytes)
        {
            return TooLarge();
        }

        var body = new ArrayBufferWriter<byte>();
        int read;
        while ((read = await context.Request.Body.ReadAsync(body.GetMemory(16 * 1024), context.RequestAborted)) > 0)
        {
            body.Advance(read);
            if (body.WrittenCount > options.MaxEventBytes)
            {
                return TooLarge();
            }
        }

        var call = new AsyncCall
        {
            Id = Guid.NewGuid().ToString(),
            Namespace = ns,
            Function = name,
            Method = context.Request.Method,
            Path = "/" + (rest ?? "") + context.Request.QueryString,
            Headers = [.. context.Request.Headers.SelectMany(h => h.Value.Select(v => new KeyValuePair<string, string>(h.Key, v ?? "")))],
            Body = body.WrittenSpan.ToArray(),
            CallbackUrl = callback.Length > 0 ? callback : null,
            QueuedAt = time.GetUtcNow(),
        };
        try
        {
            await queue.EnqueueAsync(call, context.RequestAborted);
        }
        catch (IOException e)
        {
            return Results.Text($"the call could not be queued: {e.Message}", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        context.Response.Headers["X-Call-Id"] = call.Id;
        return Results.Text(call.Id, statusCode: StatusCodes.Status202Accepted);
    }

    private IResult TooLarge() => Results.Text($"the request is larger than {options.MaxEventBytes} bytes", statusCode: StatusCodes.Status413PayloadTooLarge);
}
