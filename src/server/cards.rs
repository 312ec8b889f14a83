//! `POST /v1/personas/import` and `GET /v1/personas/{persona}/export`:
//! Character Cards (and persona files) in and out, for operators. The
//! import is the library's, as `troupe personas import` runs it; a written
//! file is in the personas directory, which is reloaded at once so the new
//! persona is served from the next request.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::body::{ApiBytes, ApiPath, ApiQuery};
use super::error::{ApiError, ErrorBody, check_id};
use super::state::SharedState;
use crate::persona::card::{self, CardError, ImportError, PreparedImport};

/// A file's bytes, as uploaded or downloaded: only its schema is used, to
/// describe the bodies in the OpenAPI document (`string`, `binary`).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBytes(#[allow(dead_code)] pub Vec<u8>);

/// How to import an uploaded file.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// The uploaded file's name: it names a nameless card's persona and
    /// gives a persona file (`*.toml`) its id.
    pub filename: Option<String>,
    /// Only report what would be written; write nothing [default: false].
    pub dry_run: Option<bool>,
    /// Replace the persona file with that id if there is one [default: false].
    pub replace: Option<bool>,
    /// The language the card's character speaks (cards do not say; a
    /// persona file says its own) [default: en].
    pub language: Option<String>,
}

/// What an import did, or would do on a dry run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportAnswer {
    /// The persona id.
    pub id: String,
    /// The persona's name.
    pub name: String,
    /// The persona file, `ID.toml`, in the server's personas directory.
    pub file: String,
    /// What the upload was read as: "Character Card V2", "Troupe persona file (TOML)", …
    pub format: String,
    /// Nothing was written.
    pub dry_run: bool,
    /// A persona file with this id is already there (a real import then needs `replace=true`).
    pub exists: bool,
    /// The file was written.
    pub written: bool,
    /// The persona is served now.
    pub live: bool,
    /// Card fields mapped to persona fields, `card → persona`.
    pub mapped: Vec<String>,
    /// Card fields kept in the persona's `[card]` table, written back on export.
    pub kept: Vec<String>,
    /// Empty card fields and what stands in for them.
    pub stand_ins: Vec<String>,
    /// What was ignored or read differently from how it was written (the warnings `troupe personas import` prints).
    pub ignored: Vec<String>,
    /// The persona's language.
    pub language: String,
    /// The language is the default, since cards do not say.
    pub language_defaulted: bool,
    /// The persona is adults-only (the card is marked NSFW).
    pub adults_only: bool,
    /// The persona file's text.
    pub toml: String,
    /// The lore file's text (`ID.lore.toml`, written beside the persona
    /// file), when the card's lorebook is too big for the persona file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lore_toml: Option<String>,
}

impl ImportAnswer {
    /// The answer for `prepared`, before anything is written.
    fn new(prepared: PreparedImport, dry_run: bool, exists: bool) -> Self {
        let report = prepared.report;
        Self {
            file: format!("{}.toml", prepared.id),
            id: prepared.id,
            name: prepared.name,
            format: prepared.source.label().to_string(),
            dry_run,
            exists,
            written: false,
            live: false,
            mapped: report.mapped,
            kept: report.kept,
            stand_ins: report.stand_ins,
            ignored: report.warnings,
            language: report.language.0,
            language_defaulted: report.language.1,
            adults_only: report.adults_only,
            toml: prepared.text,
            lore_toml: prepared.lore,
        }
    }
}

/// Imports a Character Card (V1/V2/V3 as JSON, PNG or CHARX) or a persona
/// file (TOML), told apart by content, into the personas directory.
#[utoipa::path(post, path = "/v1/personas/import", tag = "personas",
    params(ImportQuery),
    request_body(content = FileBytes, content_type = "application/octet-stream",
        description = "The file's bytes: a card's JSON, a PNG card, a CHARX archive, or a persona file"),
    responses(
        (status = 200, description = "Dry run: what would be written", body = ImportAnswer),
        (status = 201, description = "Written as ID.toml in the personas directory, served from the next request", body = ImportAnswer),
        (status = 400, description = "Not a card nor a persona file, or the persona made from it does not pass the check", body = ErrorBody),
        (status = 403, description = "Not an operator", body = ErrorBody),
        (status = 409, description = "A persona file with that id exists (send replace=true), or the server has no personas directory", body = ErrorBody),
        (status = 413, description = "Larger than [server] max_body_bytes", body = ErrorBody),
    ))]
pub async fn import(
    State(state): State<SharedState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ImportQuery>,
    ApiBytes(bytes): ApiBytes,
) -> Result<Response, ApiError> {
    caller.operator_only()?;
    let prepared = prepare(&query, bytes).await?;
    let dir = state.app.personas_dir().map(std::path::Path::to_path_buf);
    let exists = match &dir {
        Some(dir) => dir.join(prepared.file_name()).exists(),
        None => state.app.personas().get(&prepared.id).is_ok(),
    };
    if query.dry_run.unwrap_or(false) {
        let answer = ImportAnswer::new(prepared, true, exists);
        return Ok((StatusCode::OK, axum::Json(answer)).into_response());
    }
    let Some(dir) = dir else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_personas_dir",
            "this server serves the built-in personas; start it with --personas DIR (or TROUPE_PERSONAS) to import personas into that directory",
        ));
    };
    let replace = query.replace.unwrap_or(false);
    if exists && !replace {
        return Err(exists_error(&prepared.id));
    }
    prepared
        .write(&dir, replace)
        .map_err(|e| import_error(e, &query))?;
    let live = reload(&state, &prepared.id).await;
    tracing::info!(persona = %prepared.id, "persona imported");
    let mut answer = ImportAnswer::new(prepared, false, exists);
    answer.written = true;
    answer.live = live;
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

/// The library's import worked out for the uploaded bytes, off the async
/// threads (a PNG or an archive takes a moment to read).
async fn prepare(
    query: &ImportQuery,
    bytes: axum::body::Bytes,
) -> Result<PreparedImport, ApiError> {
    let filename = query.filename.clone();
    let language = query.language.clone();
    tokio::task::spawn_blocking(move || {
        card::prepare_import(&bytes, filename.as_deref(), language.as_deref())
    })
    .await
    .map_err(|e| internal(format!("the import stopped unexpectedly: {e}")))?
    .map_err(|e| import_error(e, query))
}

/// Reloads the personas directory now, rather than on the watcher's next
/// look, and says whether `id` is served.
async fn reload(state: &SharedState, id: &str) -> bool {
    let app = std::sync::Arc::clone(&state.app);
    match tokio::task::spawn_blocking(move || app.reload_personas()).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::warn!(
            "could not reload the personas after an import: {error}; the watcher tries again"
        ),
        Err(error) => tracing::error!(%error, "the personas reload stopped unexpectedly"),
    }
    state.app.personas().get(id).is_ok()
}

/// The 409 for an id that has a file.
fn exists_error(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        format!(
            "the persona \"{id}\" already has a file ({id}.toml); send the file again with replace=true to replace it"
        ),
    )
}

/// A 500 with its reason.
fn internal(message: String) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
}

/// The API error for an import error, by its kind.
fn import_error(error: ImportError, query: &ImportQuery) -> ApiError {
    match error {
        ImportError::Card {
            source: CardError::TooLarge { .. },
            ..
        } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            error.to_string(),
        ),
        ImportError::Language(_) => ApiError::bad_request(format!(
            "language={}: not a language code such as en, fr or pt-BR",
            query.language.as_deref().unwrap_or_default()
        )),
        ImportError::Card { .. }
        | ImportError::NotCardNorPersona { .. }
        | ImportError::Invalid { .. } => ApiError::bad_request(error.to_string()),
        ImportError::Exists { file, .. } => {
            let id = std::path::Path::new(&file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            exists_error(&id)
        }
        ImportError::Write { source, .. } => internal(format!(
            "could not write the persona file into the personas directory: {source}"
        )),
        other => internal(other.to_string()),
    }
}

/// Which card to export.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// card-v2 (the default), card-v3, or png (a PNG holding both).
    pub format: Option<String>,
}

/// A persona as a Character Card: V2 or V3 JSON, or a PNG on a generated
/// avatar holding both (`chara` and `ccv3`), as `troupe personas export`
/// writes them.
#[utoipa::path(get, path = "/v1/personas/{persona}/export", tag = "personas",
    params(("persona" = String, Path, description = "The persona id"), ExportQuery),
    responses(
        (status = 200, description = "The card, as an attachment: JSON (card-v2, card-v3) or a PNG card (png)",
            content((Object = "application/json"), (FileBytes = "image/png"))),
        (status = 400, description = "An unknown format", body = ErrorBody),
        (status = 403, description = "Not an operator", body = ErrorBody),
        (status = 404, description = "Unknown persona", body = ErrorBody),
    ))]
pub async fn export(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    caller.operator_only()?;
    check_id("persona id", &id)?;
    let format = query.format.as_deref().unwrap_or("card-v2");
    let json_format = match format {
        "card-v2" => Some(card::CardFormat::V2),
        "card-v3" => Some(card::CardFormat::V3),
        "png" => None,
        other => {
            return Err(ApiError::bad_request(format!(
                "format={other}: export as card-v2, card-v3 or png"
            )));
        }
    };
    let persona = state.app.personas().get(&id)?;
    let Some(json_format) = json_format else {
        let png = card::export_png(&persona, None).map_err(|e| internal(e.to_string()))?;
        return Ok(attachment("image/png", &format!("{}.png", persona.id), png));
    };
    // The bytes `troupe personas export` prints, final newline included.
    let text = format!("{}\n", card::export_json(&persona, json_format));
    let name = format!("{}.{format}.json", persona.id);
    Ok(attachment("application/json", &name, text.into_bytes()))
}

/// A download named `file`.
fn attachment(content_type: &'static str, file: &str, body: Vec<u8>) -> Response {
    let disposition = format!("attachment; filename=\"{file}\"");
    (
        [
            (CONTENT_TYPE, content_type.to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}
