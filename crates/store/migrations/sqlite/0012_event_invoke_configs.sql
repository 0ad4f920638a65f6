-- Asynchronous invocation configurations (PutFunctionEventInvokeConfig): at most one per
-- function and qualifier ('$LATEST', a version number or an alias name). config is the JSON of
-- ignis_model::invoke_config::EventInvokeConfig with its schema. A function's configurations go
-- with it; a version's or alias's go with that version or alias (in the same transaction).
CREATE TABLE event_invoke_configs (
    function_name   TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    qualifier       TEXT NOT NULL,
    config          TEXT NOT NULL,
    PRIMARY KEY (function_name, qualifier)
);
