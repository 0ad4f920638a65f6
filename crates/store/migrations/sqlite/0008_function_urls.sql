-- Function URL configurations: at most one per function and qualifier ('$LATEST' for the
-- unqualified function, else an alias name). url_id is the host label the URL is served at;
-- config is the JSON of ignis_model::url::FunctionUrl with its schema. A function's URLs go
-- with it; an alias's URL goes with the alias (deleted in the same transaction).
CREATE TABLE function_urls (
    url_id          TEXT PRIMARY KEY NOT NULL,
    function_name   TEXT NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
    qualifier       TEXT NOT NULL,
    config          TEXT NOT NULL,
    UNIQUE (function_name, qualifier)
);
