// Ignis Node.js bootstrap.
//
// A Lambda Runtime API (2018-06-01) client for Node.js functions, behaving
// like the official runtime interface client as far as a function can
// observe: handler resolution and its error types, the context object,
// async/callback handlers (including callbackWaitsForEmptyEventLoop),
// response streaming, the error payloads, and the console log format.
//
// Run as `node bootstrap.mjs` with the working directory set to
// LAMBDA_TASK_ROOT. Node.js standard library only; works on Node 18 to 24.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import util from 'node:util';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

const API_PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
const ERROR_BODY_TRAILER = 'Lambda-Runtime-Function-Error-Body';
const USER_AGENT = `ignis-nodejs/${process.versions.node}`;

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';
const REQUEST_ID_SYMBOL = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID_SYMBOL = Symbol.for('aws.lambda.runtime.tenantId');

// ---------------------------------------------------------------------------
// Errors

function defineRuntimeError(name) {
  const cls = class extends Error {};
  Object.defineProperty(cls, 'name', { value: name });
  cls.prototype.name = `Runtime.${name}`;
  return cls;
}

const ImportModuleError = defineRuntimeError('ImportModuleError');
const HandlerNotFound = defineRuntimeError('HandlerNotFound');
const MalformedHandlerName = defineRuntimeError('MalformedHandlerName');
const MalformedStreamingHandler = defineRuntimeError('MalformedStreamingHandler');
const InvalidStreamingOperation = defineRuntimeError('InvalidStreamingOperation');
const MarshalError = defineRuntimeError('MarshalError');
const NodeJsExit = defineRuntimeError('NodeJsExit');
const NEVER_SETTLED =
  'Error: the event loop emptied before the promise returned by the async handler was settled';

class UserCodeSyntaxError extends Error {
  constructor(original) {
    super(String(original));
    // Keep the original stack: it names the file and line of the mistake.
    if (original && typeof original.stack === 'string') {
      this.stack = original.stack;
    }
  }
}
UserCodeSyntaxError.prototype.name = 'Runtime.UserCodeSyntaxError';

class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

function isErrorLike(value) {
  return (
    value &&
    typeof value.name === 'string' &&
    typeof value.message === 'string' &&
    typeof value.stack === 'string' &&
    value.name &&
    value.message &&
    value.stack
  );
}

// The body posted to /error and /init/error.
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
      trace: [],
    };
  }
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

// Error name, message, code and stack are not enumerable; show them in logs.
function withEnumerableProperties(value) {
  if (value instanceof Error) {
    const ret = Object.assign(
      { errorType: value.name, errorMessage: value.message, code: value.code },
      value,
    );
    if (typeof value.stack === 'string') {
      ret.stack = value.stack.split('\n');
    }
    return ret;
  }
  return value;
}

function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

// ---------------------------------------------------------------------------
// Console patching (Lambda's text and JSON log formats)

const LEVELS = Object.freeze({
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
});

const jsonLogs = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';

function currentRequestId() {
  return globalThis[REQUEST_ID_SYMBOL];
}

function setCurrentInvoke(requestId, tenantId) {
  globalThis[REQUEST_ID_SYMBOL] = requestId;
  globalThis[TENANT_ID_SYMBOL] = tenantId;
}

function jsonErrorReplacer(_key, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
}

function formatJsonRecord(timestamp, level, message, params) {
  const record = { timestamp, level: level.name, requestId: currentRequestId() };
  const tenantId = globalThis[TENANT_ID_SYMBOL];
  if (tenantId) {
    record.tenantId = tenantId;
  }
  if (params.length === 0) {
    record.message = message;
    try {
      return JSON.stringify(record, jsonErrorReplacer);
    } catch {
      record.message = util.format(message);
      return JSON.stringify(record);
    }
  }
  record.message = util.format(message, ...params);
  for (const param of params) {
    if (param instanceof Error) {
      record.errorType = param?.constructor?.name ?? 'UnknownError';
      record.errorMessage = param.message;
      record.stackTrace = typeof param.stack === 'string' ? param.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(record);
}

// One record per call, written in a single write. Multi-line messages are
// kept as they are.
function writeLogRecord(level, message, ...params) {
  const timestamp = new Date().toISOString();
  const line = jsonLogs
    ? formatJsonRecord(timestamp, level, message, params)
    : `${timestamp}\t${currentRequestId()}\t${level.name}\t${util.format(message, ...params)}`;
  process.stdout.write(line + '\n');
}

function patchConsole() {
  const minimum =
    LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? LEVELS.TRACE;
  const logAt = (level) =>
    level.priority >= minimum.priority
      ? (message, ...params) => writeLogRecord(level, message, ...params)
      : () => {};
  console.trace = logAt(LEVELS.TRACE);
  console.debug = logAt(LEVELS.DEBUG);
  console.info = logAt(LEVELS.INFO);
  console.log = console.info;
  console.warn = logAt(LEVELS.WARN);
  console.error = logAt(LEVELS.ERROR);
  console.fatal = (message, ...params) => writeLogRecord(LEVELS.FATAL, message, ...params);
}

// Log an error the way the official runtime does ("Invoke Error", ...).
function logError(label, err) {
  if (jsonLogs) {
    console.error(intoError(err));
  } else {
    console.error(label, toFormatted(intoError(err)));
  }
}

function fatal(message, err) {
  const detail = err ? `: ${err && err.stack ? err.stack : err}` : '';
  process.stderr.write(`[ERROR] Ignis Node.js runtime: ${message}${detail}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------
// Runtime API client

function headerSafe(value) {
  return String(value).replace(/[^\x20-\x7e]/g, '?');
}

function serializeResponse(result) {
  try {
    const text = JSON.stringify(result === undefined ? null : result);
    // JSON.stringify returns undefined for functions and symbols.
    return text === undefined ? 'null' : text;
  } catch {
    throw new MarshalError('Unable to stringify response body');
  }
}

class RuntimeClient {
  constructor(address) {
    const colon = address.lastIndexOf(':');
    this.hostname = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    this.port = parseInt(address.slice(colon + 1), 10);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  request(method, urlPath, body, headers = {}, retried = false) {
    return new Promise((resolve, reject) => {
      const allHeaders = { 'User-Agent': USER_AGENT, ...headers };
      if (body !== undefined) {
        allHeaders['Content-Length'] = Buffer.byteLength(body);
      }
      const req = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          path: urlPath,
          method,
          headers: allHeaders,
          agent: this.agent,
        },
        (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () =>
            resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        },
      );
      req.on('error', (err) => {
        // An idle kept-alive connection may have been closed by the server.
        if (!retried && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          resolve(this.request(method, urlPath, body, headers, true));
        } else {
          reject(err);
        }
      });
      req.end(body);
    });
  }

  async nextInvocation() {
    const urlPath = `${API_PREFIX}/invocation/next`;
    let res;
    try {
      res = await this.request('GET', urlPath);
    } catch (err) {
      fatal(`GET ${urlPath} failed`, err);
    }
    if (res.status !== 200) {
      fatal(`GET ${urlPath} returned ${res.status}: ${res.body.toString('utf8').slice(0, 1024)}`);
    }
    return { headers: res.headers, body: res.body.toString('utf8') };
  }

  async post(urlPath, body, headers, fatalClientErrors = false) {
    let res;
    try {
      res = await this.request('POST', urlPath, body, headers);
    } catch (err) {
      fatal(`POST ${urlPath} failed`, err);
    }
    if (res.status >= 500 || (fatalClientErrors && res.status >= 400)) {
      fatal(`POST ${urlPath} returned ${res.status}: ${res.body.toString('utf8').slice(0, 1024)}`);
    }
    if (res.status >= 400) {
      process.stderr.write(
        `[WARNING] POST ${urlPath} returned ${res.status}: ${res.body.toString('utf8').slice(0, 1024)}\n`,
      );
    }
  }

  // Throws MarshalError (before sending anything) if the result cannot be
  // serialised.
  postInvocationResponse(id, result) {
    const body = serializeResponse(result);
    return this.post(`${API_PREFIX}/invocation/${encodeURIComponent(id)}/response`, body, {
      'Content-Type': 'application/json',
    });
  }

  postInvocationError(id, error) {
    const body = JSON.stringify(toRapidResponse(error));
    return this.post(`${API_PREFIX}/invocation/${encodeURIComponent(id)}/error`, body, {
      'Content-Type': 'application/json',
      [ERROR_TYPE_HEADER]: 'Unhandled',
    });
  }

  postInitError(error) {
    const response = toRapidResponse(error);
    return this.post(
      `${API_PREFIX}/init/error`,
      JSON.stringify(response),
      {
        'Content-Type': 'application/json',
        [ERROR_TYPE_HEADER]: headerSafe(response.errorType || 'Unhandled'),
      },
      true,
    );
  }

  // A chunked POST to /response in streaming mode. Errors after the start
  // are reported in the trailers.
  openResponseStream(id, highWaterMark) {
    let settle;
    const done = new Promise((resolve) => {
      settle = resolve;
    });
    const urlPath = `${API_PREFIX}/invocation/${encodeURIComponent(id)}/response`;
    const req = http.request(
      {
        hostname: this.hostname,
        port: this.port,
        path: urlPath,
        method: 'POST',
        agent: this.agent,
        highWaterMark,
        headers: {
          'User-Agent': USER_AGENT,
          'Lambda-Runtime-Function-Response-Mode': 'streaming',
          'Transfer-Encoding': 'chunked',
          Trailer: `${ERROR_TYPE_HEADER}, ${ERROR_BODY_TRAILER}`,
          'Content-Type': 'application/octet-stream',
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          if (res.statusCode >= 500) {
            fatal(`POST ${urlPath} returned ${res.statusCode}: ${Buffer.concat(chunks)}`);
          }
          if (res.statusCode >= 400) {
            process.stderr.write(
              `[WARNING] POST ${urlPath} returned ${res.statusCode}: ${Buffer.concat(chunks)}\n`,
            );
          }
          settle();
        });
      },
    );
    req.on('error', (err) => fatal(`POST ${urlPath} failed`, err));

    let started = false;
    const origWrite = req.write.bind(req);
    const origEnd = req.end.bind(req);
    const startOnce = () => {
      if (!started) {
        started = true;
        if (typeof req._onBeforeFirstWrite === 'function') {
          req._onBeforeFirstWrite((chunk) => origWrite(chunk));
        }
      }
    };
    req.setContentType = (contentType) => {
      if (started) {
        throw new InvalidStreamingOperation('Cannot set content-type, too late.');
      }
      req.setHeader('Content-Type', contentType);
    };
    req.write = (chunk, encoding, callback) => {
      if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk) && !(chunk instanceof Uint8Array)) {
        chunk = JSON.stringify(chunk);
      }
      startOnce();
      return origWrite(chunk, encoding, callback);
    };
    req.end = (chunk, encoding, callback) => {
      if (typeof chunk === 'function') {
        return req.end(undefined, undefined, chunk);
      }
      if (typeof encoding === 'function') {
        return req.end(chunk, undefined, encoding);
      }
      if (chunk !== undefined && chunk !== null) {
        req.write(chunk, encoding);
      }
      startOnce();
      return origEnd(callback);
    };
    const fail = (err) => {
      logError('Invoke Error', err);
      if (req.writableEnded) {
        return;
      }
      const response = toRapidResponse(err);
      startOnce();
      req.addTrailers({
        [ERROR_TYPE_HEADER]: headerSafe(response.errorType),
        [ERROR_BODY_TRAILER]: Buffer.from(JSON.stringify(response)).toString('base64'),
      });
      origEnd();
    };
    return { stream: req, done, fail };
  }
}

// ---------------------------------------------------------------------------
// Handler loading

const awslambda = {
  streamifyResponse(handler, options) {
    handler[HANDLER_STREAMING] = STREAM_RESPONSE;
    if (typeof options?.highWaterMark === 'number') {
      handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark, 10);
    }
    return handler;
  },
  HttpResponseStream: class HttpResponseStream {
    static from(underlyingStream, prelude) {
      underlyingStream.setContentType('application/vnd.awslambda.http-integration-response');
      const metadata = JSON.stringify(prelude);
      underlyingStream._onBeforeFirstWrite = (write) => {
        write(metadata);
        write(new Uint8Array(8));
      };
      return underlyingStream;
    }
  },
};

// CommonJS load of `file` if it exists. Newer Node versions can require()
// ES modules, but not ones with top-level await; those are imported instead.
async function requireIfExists(file) {
  if (!fs.existsSync(file)) {
    return undefined;
  }
  try {
    return require(file);
  } catch (e) {
    if (e && (e.code === 'ERR_REQUIRE_ESM' || e.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
      return await import(pathToFileURL(file).href);
    }
    throw e;
  }
}

async function importIfExists(file) {
  return fs.existsSync(file) ? await import(pathToFileURL(file).href) : undefined;
}

// True when the nearest package.json (not crossing node_modules) says
// "type": "module".
function inModulePackage(folder) {
  for (;;) {
    if (folder.endsWith(`${path.sep}node_modules`)) {
      return false;
    }
    const pj = path.join(folder, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(pj, 'utf8'));
        if (pkg) {
          return pkg.type === 'module';
        }
      } catch (e) {
        console.warn(
          `${pj} cannot be read, it will be ignored for ES module detection purposes.`,
          e,
        );
        return false;
      }
    }
    const parent = path.dirname(folder);
    if (parent === folder) {
      return false;
    }
    folder = parent;
  }
}

async function loadModule(appRoot, moduleRoot, moduleName) {
  const base = path.resolve(appRoot, moduleRoot, moduleName);

  const extensionless = await requireIfExists(base);
  if (extensionless) {
    return extensionless;
  }
  const esm = inModulePackage(path.dirname(base));
  if (!esm) {
    const cjs = await requireIfExists(`${base}.js`);
    if (cjs) {
      return cjs;
    }
  }
  const loaded =
    (esm && (await importIfExists(`${base}.js`))) ||
    (await importIfExists(`${base}.mjs`)) ||
    (await requireIfExists(`${base}.cjs`));
  if (loaded) {
    return loaded;
  }
  // Fall back to Node's own resolution (node_modules, NODE_PATH).
  const resolved = require.resolve(moduleName, {
    paths: [appRoot, path.join(appRoot, moduleRoot)],
  });
  return require(resolved);
}

function findIn(object, propertyPath) {
  return propertyPath.split('.').reduce((nested, key) => nested && nested[key], object);
}

async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerName = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerName));
  const match = handlerName.match(/^([^.]*)\.(.*)$/);
  if (!match) {
    throw new MalformedHandlerName('Bad handler');
  }
  const [, moduleName, propertyPath] = match;

  if (!['1', 'true'].includes(process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA)) {
    globalThis.awslambda = awslambda;
  }

  let userApp;
  try {
    userApp = await loadModule(appRoot, moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw new UserCodeSyntaxError(e);
    }
    if (e && (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new ImportModuleError(e);
    }
    throw e;
  }

  let handler = findIn(userApp, propertyPath);
  if (!handler && userApp && typeof userApp === 'object' && 'default' in userApp) {
    handler = findIn(userApp.default, propertyPath);
  }
  if (!handler) {
    throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw new HandlerNotFound(`${fullHandler} is not a function`);
  }
  return handler;
}

function handlerMetadata(handler) {
  const streamingMark = handler[HANDLER_STREAMING];
  let streaming = false;
  if (streamingMark !== undefined && streamingMark !== null && streamingMark !== false) {
    if (streamingMark !== STREAM_RESPONSE) {
      throw new MalformedStreamingHandler('Only response streaming is supported.');
    }
    streaming = true;
  }
  const hwm = parseInt(handler[HANDLER_HIGHWATERMARK], 10);
  return {
    streaming,
    highWaterMark: Number.isNaN(hwm) ? undefined : hwm,
    isAsync: handler.constructor?.name === 'AsyncFunction',
    argsNum: handler.length,
  };
}

// ---------------------------------------------------------------------------
// Invocation context

function parseJsonHeader(value, name) {
  if (value === undefined || value === '') {
    return undefined;
  }
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

function forwardTraceId(headers) {
  const traceId = headers['lambda-runtime-trace-id'];
  if (traceId) {
    process.env._X_AMZN_TRACE_ID = traceId;
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }
}

// Adds the invocation data to `base` (which carries the callback functions
// and the callbackWaitsForEmptyEventLoop accessor).
function attachInvokeData(base, headers) {
  const deadline = parseInt(headers['lambda-runtime-deadline-ms'], 10) || 0;
  const clientContext = parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext');
  let w3c = {};
  if (clientContext && typeof clientContext === 'object' && 'w3c' in clientContext) {
    const raw = clientContext.w3c;
    delete clientContext.w3c;
    if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
      for (const key of ['traceparent', 'tracestate', 'baggage']) {
        if (typeof raw[key] === 'string') {
          w3c[key] = raw[key];
        }
      }
    }
  }
  w3c = Object.freeze(w3c);
  forwardTraceId(headers);
  return Object.assign(base, {
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext,
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    tenantId: headers['lambda-runtime-aws-tenant-id'],
    getRemainingTimeInMillis() {
      return deadline - Date.now();
    },
    w3c() {
      return w3c;
    },
  });
}

// ---------------------------------------------------------------------------
// Runtime loop

// The process keeps one 'beforeExit' listener; it runs the action for the
// current invocation when the event loop has drained.
let beforeExitAction = () => {};
const resetBeforeExit = () => {
  beforeExitAction = () => {};
};
const setBeforeExit = (action) => {
  beforeExitAction = action;
};

function isPromise(value) {
  return value && typeof value.then === 'function';
}

class Runtime {
  constructor(client, handler, metadata, errorCallbacks) {
    this.client = client;
    this.handler = handler;
    this.metadata = metadata;
    this.errorCallbacks = errorCallbacks;
  }

  scheduleNext() {
    setImmediate(() => {
      const once = this.metadata.streaming ? this.handleOnceStreaming() : this.handleOnce();
      once.catch((err) => fatal('unexpected runtime error', err));
    });
  }

  // callback(err, result) plus context.succeed/fail/done; only the first call
  // of any of them counts.
  buildCallbackContext(id) {
    const client = this.client;
    const next = () => this.scheduleNext();
    let completed = false;
    let waitForEmptyEventLoop = true;

    const postError = (err) => {
      logError('Invoke Error', err);
      client.postInvocationError(id, err).then(next);
    };
    const complete = (result) => {
      if (completed) {
        console.error(
          'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
        );
        return;
      }
      completed = true;
      let posting;
      try {
        posting = client.postInvocationResponse(id, result);
      } catch (err) {
        postError(err);
        return;
      }
      posting.then(next);
    };

    const callback = (err, result) => {
      resetBeforeExit();
      if (err !== undefined && err !== null) {
        postError(err);
      } else if (!waitForEmptyEventLoop) {
        complete(result);
      } else {
        setBeforeExit(() => setImmediate(() => complete(result)));
      }
    };
    const done = (err, result) => {
      resetBeforeExit();
      if (err !== undefined && err !== null) {
        postError(err);
      } else {
        complete(result);
      }
    };

    let finished = false;
    const firstCallOnly =
      (fn) =>
      (...args) => {
        if (!finished) {
          fn(...args);
          finished = true;
        }
      };

    const base = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        waitForEmptyEventLoop = value;
      },
      succeed: firstCallOnly((result) => done(null, result)),
      fail: firstCallOnly((err) => (err === undefined || err === null ? done('handled') : done(err, null))),
      done: firstCallOnly(done),
    };
    const markCompleted = () => {
      completed = true;
    };
    return [firstCallOnly(callback), base, markCompleted];
  }

  setInvokeErrorCallbacks(id) {
    this.errorCallbacks.uncaughtException = (error) => {
      this.client.postInvocationError(id, error).finally(() => process.exit(129));
    };
    this.errorCallbacks.unhandledRejection = (error) => {
      this.client.postInvocationError(id, error).finally(() => process.exit(128));
    };
  }

  async handleOnce() {
    const { headers, body } = await this.client.nextInvocation();
    const id = headers['lambda-runtime-aws-request-id'];
    if (!id) {
      fatal('invocation without Lambda-Runtime-Aws-Request-Id');
    }
    setCurrentInvoke(id, headers['lambda-runtime-aws-tenant-id']);

    const [callback, base, markCompleted] = this.buildCallbackContext(id);
    try {
      this.setInvokeErrorCallbacks(id);
      // If the event loop drains before the handler reports a result: an
      // async handler failed to settle its promise; any other handler
      // succeeds with null (the official behaviour for callback handlers
      // that never call back).
      setBeforeExit(() => {
        markCompleted();
        const post = this.metadata.isAsync
          ? (() => {
              const error = new NodeJsExit(NEVER_SETTLED);
              logError('Invoke Error', error);
              return this.client.postInvocationError(id, error);
            })()
          : this.client.postInvocationResponse(id, null);
        post.then(() => this.scheduleNext());
      });

      const context = attachInvokeData(base, headers);
      const event = JSON.parse(body);
      const result = this.handler(event, context, callback);
      if (isPromise(result)) {
        result.then(context.succeed, context.fail).catch(context.fail);
      } else if (result !== undefined && this.metadata.argsNum < 3) {
        // A plain function returning a value: that value is the result.
        callback(null, result);
      }
    } catch (err) {
      callback(err);
    }
  }

  async handleOnceStreaming() {
    const { headers, body } = await this.client.nextInvocation();
    const id = headers['lambda-runtime-aws-request-id'];
    if (!id) {
      fatal('invocation without Lambda-Runtime-Aws-Request-Id');
    }
    setCurrentInvoke(id, headers['lambda-runtime-aws-tenant-id']);

    let waitForEmptyEventLoop = true;
    const base = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        waitForEmptyEventLoop = value;
      },
    };
    const { stream, done, fail } = this.client.openResponseStream(id, this.metadata.highWaterMark);
    const finish = async () => {
      await done;
      resetBeforeExit();
      if (waitForEmptyEventLoop) {
        setBeforeExit(() => setImmediate(() => this.scheduleNext()));
      } else {
        this.scheduleNext();
      }
    };

    try {
      this.setInvokeErrorCallbacks(id);
      // The event loop drained while the handler's promise was pending: it
      // can never settle now, so end the stream with an error.
      setBeforeExit(() => {
        resetBeforeExit();
        fail(new NodeJsExit(NEVER_SETTLED));
        finish();
      });
      const context = attachInvokeData(base, headers);
      const event = JSON.parse(body);
      const pending = this.handler(event, stream, context);
      if (!isPromise(pending)) {
        fail('Streaming does not support non-async handlers.');
        return finish();
      }
      const result = await pending;
      if (result !== undefined) {
        console.warn('Streaming handlers ignore return values.');
      }
      if (!stream.writableEnded) {
        fail('Response stream is not finished.');
      }
    } catch (err) {
      fail(err);
    }
    return finish();
  }
}

// ---------------------------------------------------------------------------
// Entry point

async function main() {
  patchConsole();

  const address = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!address) {
    fatal('AWS_LAMBDA_RUNTIME_API is not set');
  }
  const client = new RuntimeClient(address);

  const errorCallbacks = {
    uncaughtException: (error) => {
      client.postInitError(error).finally(() => process.exit(129));
    },
    unhandledRejection: (error) => {
      client.postInitError(error).finally(() => process.exit(128));
    },
  };
  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  process.on('beforeExit', () => beforeExitAction());

  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let handler;
  let metadata;
  try {
    handler = await loadHandler(appRoot, process.env._HANDLER || '');
    metadata = handlerMetadata(handler);
  } catch (err) {
    logError('Uncaught Exception', err);
    await client.postInitError(err);
    process.exit(129);
  }

  new Runtime(client, handler, metadata, errorCallbacks).scheduleNext();
}

main().catch((err) => fatal('bootstrap failed', err));
