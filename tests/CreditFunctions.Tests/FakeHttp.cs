using System.Net;
using System.Security.Claims;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace CreditFunctions.Tests;

/// <summary>Just enough of a FunctionContext for HttpRequestData; the functions under test use none of it.</summary>
internal sealed class FakeFunctionContext : FunctionContext
{
    public override string InvocationId => "test";
    public override string FunctionId => "test";
    public override TraceContext TraceContext => null!;
    public override BindingContext BindingContext => null!;
    public override RetryContext RetryContext => null!;
    public override IServiceProvider InstanceServices { get; set; } = null!;
    public override FunctionDefinition FunctionDefinition => null!;
    public override IDictionary<object, object> Items { get; set; } = new Dictionary<object, object>();
    public override IInvocationFeatures Features => null!;
}

/// <summary>An HTTP request as the Functions host would hand it to a function.</summary>
internal sealed class FakeHttpRequestData(string method, Uri url, byte[] body, params (string Name, string Value)[] headers)
    : HttpRequestData(new FakeFunctionContext())
{
    public override Stream Body { get; } = new MemoryStream(body);
    public override HttpHeadersCollection Headers { get; } = new(headers.Select(h => new KeyValuePair<string, string>(h.Name, h.Value)));
    public override IReadOnlyCollection<IHttpCookie> Cookies { get; } = [];
    public override Uri Url { get; } = url;
    public override IEnumerable<ClaimsIdentity> Identities { get; } = [];
    public override string Method { get; } = method;

    public override HttpResponseData CreateResponse() => new FakeHttpResponseData(FunctionContext);
}

/// <summary>The response a function wrote.</summary>
internal sealed class FakeHttpResponseData(FunctionContext context) : HttpResponseData(context)
{
    public override HttpStatusCode StatusCode { get; set; }
    public override HttpHeadersCollection Headers { get; set; } = new();
    public override Stream Body { get; set; } = new MemoryStream();
    public override HttpCookies Cookies => null!;

    public string BodyText => System.Text.Encoding.UTF8.GetString(((MemoryStream)Body).ToArray());
}
