//! GetAccountSettings.

use crate::ApiState;
use axum::Json;
use axum::extract::State;
use ignis_model::limits;
use ignis_wire::LambdaApiError;
use ignis_wire::function::{AccountLimit, AccountSettings, AccountUsage};

pub async fn settings(
    State(state): State<ApiState>,
) -> Result<Json<AccountSettings>, LambdaApiError> {
    let (total_code_size, function_count) = state
        .store
        .usage()
        .await
        .map_err(crate::functions::store_error)?;
    Ok(Json(AccountSettings {
        account_limit: AccountLimit {
            total_code_size: limits::TOTAL_CODE_SIZE,
            code_size_unzipped: limits::MAX_UNZIPPED_CODE_BYTES,
            code_size_zipped: limits::MAX_ZIPPED_CODE_BYTES,
            concurrent_executions: state.engine.limiter().limit(),
            unreserved_concurrent_executions: state.engine.limiter().unreserved(),
        },
        account_usage: AccountUsage {
            total_code_size,
            function_count,
        },
    }))
}
