// The AWS SDK for JavaScript v3 (@aws-sdk/client-lambda) against an Ignis node: every function
// URL configuration operation, on a function and on its alias `live`, and the errors the SDK
// turns into exceptions.
//
// Usage: node lambda_urls.mjs <endpoint> <function>   (credentials and region from the environment;
// the function and its alias `live` exist, with no URL yet)
// Prints one JSON document with what each step observed.
import {
  LambdaClient, CreateFunctionUrlConfigCommand, GetFunctionUrlConfigCommand,
  UpdateFunctionUrlConfigCommand, DeleteFunctionUrlConfigCommand, ListFunctionUrlConfigsCommand,
} from "@aws-sdk/client-lambda";

const [endpoint, FunctionName] = process.argv.slice(2);
const client = new LambdaClient({ endpoint, maxAttempts: 1 });
const out = {};

// The members of an answer (without $metadata) and its status.
async function ok(command) {
  const { $metadata, ...members } = await client.send(command);
  return { status: $metadata.httpStatusCode, ...members };
}

// The exception a command fails with.
async function refused(command) {
  try {
    await client.send(command);
    return { unexpected: "success" };
  } catch (e) {
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message, type: e.Type ?? null };
  }
}

const cors = { AllowOrigins: ["https://example.com"], AllowMethods: ["GET", "POST"], MaxAge: 300 };
out.create = await ok(new CreateFunctionUrlConfigCommand({
  FunctionName, AuthType: "NONE", Cors: cors, InvokeMode: "RESPONSE_STREAM",
}));
out.duplicate = await refused(new CreateFunctionUrlConfigCommand({ FunctionName, AuthType: "NONE" }));
out.get = await ok(new GetFunctionUrlConfigCommand({ FunctionName }));
out.update = await ok(new UpdateFunctionUrlConfigCommand({
  FunctionName, AuthType: "AWS_IAM", Cors: { AllowCredentials: true, ExposeHeaders: ["x-trace"] },
}));
out.alias = await ok(new CreateFunctionUrlConfigCommand({ FunctionName, Qualifier: "live", AuthType: "AWS_IAM" }));
out.firstPage = await ok(new ListFunctionUrlConfigsCommand({ FunctionName, MaxItems: 1 }));
out.secondPage = await ok(new ListFunctionUrlConfigsCommand({
  FunctionName, MaxItems: 1, Marker: out.firstPage.NextMarker,
}));
out.version = await refused(new GetFunctionUrlConfigCommand({ FunctionName, Qualifier: "1" }));
out.badCors = await refused(new UpdateFunctionUrlConfigCommand({ FunctionName, Cors: { MaxAge: -1 } }));
out.missingFunction = await refused(new CreateFunctionUrlConfigCommand({
  FunctionName: `${FunctionName}-none`, AuthType: "NONE",
}));
out.delete = await ok(new DeleteFunctionUrlConfigCommand({ FunctionName }));
out.afterDelete = await refused(new GetFunctionUrlConfigCommand({ FunctionName }));
out.aliasKept = await ok(new GetFunctionUrlConfigCommand({ FunctionName, Qualifier: "live" }));

console.log(JSON.stringify(out));
