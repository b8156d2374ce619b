using CreditGrants.Bench;

return await BenchCommand.RunAsync(args).ConfigureAwait(false);
