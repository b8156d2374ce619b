using CreditFunctions;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

CreditGrants.CultureDefaults.UseInvariant();
var builder = FunctionsApplication.CreateBuilder(args);

builder.Services.AddCreditFunctionsTelemetry();
builder.Services.AddCreditFunctions(builder.Configuration);

builder.Build().Run();
