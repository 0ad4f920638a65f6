//! Lambda's documented limits, written once.

/// Largest zipped deployment package accepted in a request body (50 MB).
pub const MAX_ZIPPED_CODE_BYTES: u64 = 52_428_800;
/// Largest request body for CreateFunction / UpdateFunctionCode: a base64 50 MB zip in JSON.
pub const MAX_CODE_REQUEST_BYTES: usize = 69_905_067;
/// Largest unzipped function (with its layers).
pub const MAX_UNZIPPED_CODE_BYTES: u64 = 262_144_000;
/// Largest JSON body of any other control-plane request.
pub const MAX_CONTROL_REQUEST_BYTES: usize = 6_291_456;
/// Largest synchronous invoke request payload.
pub const MAX_SYNC_PAYLOAD_BYTES: usize = 6_291_456;
/// Largest asynchronous (Event) invoke payload.
pub const MAX_ASYNC_PAYLOAD_BYTES: usize = 1_048_576;
/// Largest InvokeAsync (deprecated API) payload.
pub const MAX_INVOKE_ASYNC_PAYLOAD_BYTES: usize = 262_144;
/// Total size of a function's environment variables, measured as their compact JSON.
pub const MAX_ENVIRONMENT_BYTES: usize = 4096;
/// Timeout bounds and default, seconds.
pub const TIMEOUT_RANGE: (u32, u32) = (1, 900);
pub const DEFAULT_TIMEOUT: u32 = 3;
/// Memory bounds and default, MB.
pub const MEMORY_RANGE: (u32, u32) = (128, 10_240);
pub const DEFAULT_MEMORY: u32 = 128;
/// /tmp size bounds and default, MB.
pub const EPHEMERAL_STORAGE_RANGE: (u32, u32) = (512, 10_240);
pub const DEFAULT_EPHEMERAL_STORAGE: u32 = 512;
/// Description length.
pub const MAX_DESCRIPTION_CHARS: usize = 256;
/// Handler length.
pub const MAX_HANDLER_CHARS: usize = 128;
/// Layers per function.
pub const MAX_LAYERS: usize = 5;
/// Tags per resource.
pub const MAX_TAGS: usize = 50;
/// Default account-wide concurrency.
pub const DEFAULT_ACCOUNT_CONCURRENCY: u32 = 1000;
/// Total code storage per region.
pub const TOTAL_CODE_SIZE: u64 = 80_530_636_800;
/// ListFunctions returns at most this many per page.
pub const MAX_LIST_PAGE: usize = 50;
