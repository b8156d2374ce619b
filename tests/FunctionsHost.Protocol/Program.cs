using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;

// Usage: FunctionsHost.Protocol <output.pb> <csharp namespace>
// Writes a FileDescriptorSet of the Functions worker protocol as embedded in Microsoft.Azure.Functions.Worker.Grpc (its
// generated types are internal, their descriptors are not): FunctionRpc.proto and every file it imports, imports first,
// for protoc --descriptor_set_in. The protocol's own files get the given C# namespace, so that generated code cannot be
// mistaken for the worker's internal types.
if (args.Length != 2)
{
    Console.Error.WriteLine("Usage: FunctionsHost.Protocol <output.pb> <csharp namespace>");
    return 2;
}

const string ReflectionType = "Microsoft.Azure.Functions.Worker.Grpc.Messages.FunctionRpcReflection";
var worker = Assembly.Load("Microsoft.Azure.Functions.Worker.Grpc");
var root = worker.GetType(ReflectionType, throwOnError: false)?.GetProperty("Descriptor")?.GetValue(null) as FileDescriptor
    ?? throw new InvalidOperationException($"{worker.GetName()} has no {ReflectionType}.Descriptor: the worker package changed its layout.");

var set = new FileDescriptorSet();
var seen = new HashSet<string>(StringComparer.Ordinal);
Add(root);
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(args[0]))!);
File.WriteAllBytes(args[0], set.ToByteArray());
Console.WriteLine($"{args[0]}: {string.Join(", ", set.File.Select(f => f.Name))} from {worker.GetName().Name} {worker.GetName().Version}");
return 0;

void Add(FileDescriptor file)
{
    if (!seen.Add(file.Name))
    {
        return;
    }

    foreach (var dependency in file.Dependencies)
    {
        Add(dependency);
    }

    var proto = FileDescriptorProto.Parser.ParseFrom(file.SerializedData);
    if (!proto.Name.StartsWith("google/protobuf/", StringComparison.Ordinal))
    {
        proto.Options ??= new Google.Protobuf.Reflection.FileOptions();
        proto.Options.CsharpNamespace = args[1];
    }

    set.File.Add(proto);
}
