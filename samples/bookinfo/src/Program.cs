using Bookinfo;

// One executable, four services: `bookinfo productpage|details|reviews|ratings`, on 127.0.0.1:$PORT.
var role = args.Length > 0 ? args[0] : "";
Action<WebApplication>? map = role switch
{
    "details" => DetailsService.Map,
    "ratings" => RatingsService.Map,
    "reviews" => ReviewsService.Map,
    "productpage" => ProductPageService.Map,
    _ => null,
};
if (map is null)
{
    await Console.Error.WriteLineAsync("usage: bookinfo productpage|details|reviews|ratings   (listens on 127.0.0.1:$PORT, default 9080)");
    return 2;
}

var port = Environment.GetEnvironmentVariable("PORT") is { Length: > 0 } p ? p : "9080";
var builder = WebApplication.CreateSlimBuilder(args[1..]);
builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "HH:mm:ss.fff ";
});
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);

var app = builder.Build();
var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("bookinfo." + role);
app.Use(async (context, next) =>
{
    var started = System.Diagnostics.Stopwatch.GetTimestamp();
    await next(context);
    log.Request(context.Request.Method, context.Request.Path, context.Response.StatusCode,
        System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
});
map(app);
await app.RunAsync();
return 0;
