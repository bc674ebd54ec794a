//! Routes, request parsing and the mapping of auth results to responses.

use std::prelude::rust_2021::*;

use serde::Serialize;
use serde_json::Value;

use super::{browser, page, Request, Response, MAX_AUTHORIZATION};
use crate::auth::{Auth, AuthError, Note, Principal, Session, TokenPair};
use crate::store::StoreError;
use crate::{Error as JwtError, Segment};

/// One path and the methods it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The path, with `{id}` for a segment (OpenAPI style): a positive
    /// number for notes, a session's id for sessions.
    pub path: &'static str,
    /// The methods served.
    pub methods: &'static [&'static str],
}

/// Declares the routes once: each path with its methods and the function
/// that answers each. From that one list come [`ROUTES`] (404 against 405,
/// `Allow`, the OpenAPI check) and the dispatch, so they cannot drift apart.
macro_rules! routes {
    ($($path:literal: $($method:ident => $handler:ident),+;)+) => {
        /// Every route the server answers; `docs/openapi.yaml` lists the same set.
        pub const ROUTES: &[Route] = &[$(Route {
            path: $path,
            methods: &[$(stringify!($method)),+],
        }),+];

        /// The handlers of [`ROUTES`]: one list per route, one handler per
        /// method, in the same order.
        const HANDLERS: &[&[Handler]] = &[$(&[$($handler),+]),+];
    };
}

routes! {
    "/auth/register": POST => register;
    "/auth/login": POST => login;
    "/auth/refresh": POST => refresh;
    "/auth/logout": POST => logout;
    "/auth/logout-all": POST => logout_all;
    "/auth/sessions": GET => sessions;
    "/auth/sessions/{id}": DELETE => revoke_session;
    "/auth/password": POST => change_password;
    "/me": GET => me, DELETE => delete_account;
    "/notes": GET => notes, POST => create_note;
    "/notes/{id}": GET => note, DELETE => delete_note;
    "/healthz": GET => healthz;
    "/readyz": GET => readyz;
}

/// The realm in `WWW-Authenticate`.
const REALM: &str = "minijwt";

/// Answers one request.
///
/// ```
/// use std::sync::Arc;
/// use minijwt::auth::{Auth, AuthConfig, SystemClock};
/// use minijwt::http::{router, Request};
/// use minijwt::{store::Store, Hs256Key};
///
/// let auth = Auth::new(Store::open_in_memory().unwrap(), Hs256Key::new(&[7; 32]).unwrap(),
///                      AuthConfig::default(), Arc::new(SystemClock)).unwrap();
/// assert_eq!(router::handle(&auth, &Request::new("GET", "/healthz")).status, 200);
/// assert_eq!(router::handle(&auth, &Request::new("GET", "/nope")).status, 404);
/// assert_eq!(router::handle(&auth, &Request::new("PUT", "/me")).status, 405);
/// assert_eq!(router::handle(&auth, &Request::new("GET", "/me")).status, 401);
/// ```
pub fn handle(auth: &Auth, request: &Request) -> Response {
    handle_matched(auth, request).0
}

/// What a request's path was matched to, for counting requests by route
/// with a bounded set of labels (never the path itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// `ROUTES[i]`, whatever the method.
    Route(usize),
    /// A file of the page at `/`.
    Page,
    /// No route: every unknown path counts as one.
    Unknown,
}

/// [`handle`], and what the path matched.
///
/// ```
/// # use std::sync::Arc;
/// # use minijwt::auth::{Auth, AuthConfig, SystemClock};
/// use minijwt::http::{router::{self, Matched, ROUTES}, Request};
/// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(), minijwt::Hs256Key::new(&[7; 32]).unwrap(),
/// #                      AuthConfig::default(), Arc::new(SystemClock)).unwrap();
/// let (response, matched) = router::handle_matched(&auth, &Request::new("GET", "/notes/7"));
/// assert_eq!((response.status, matched), (401, Matched::Route(10)));
/// assert_eq!(ROUTES[10].path, "/notes/{id}");
/// assert_eq!(router::handle_matched(&auth, &Request::new("GET", "/x")).1, Matched::Unknown);
/// ```
pub fn handle_matched(auth: &Auth, request: &Request) -> (Response, Matched) {
    let path = request.path.split(['?', '#']).next().unwrap_or_default();
    if page::is_page(path) {
        let response = match request.method.as_str() {
            "GET" | "HEAD" => {
                page::serve(path).unwrap_or_else(|| Response::error(404, "not_found", "no such path"))
            }
            _ => Response::error(405, "method_not_allowed", &format!("{path} accepts GET and HEAD"))
                .with_header("Allow", "GET, HEAD"),
        };
        return (response, Matched::Page);
    }
    let Some((index, id)) = find_route(path) else {
        return (
            Response::error(404, "not_found", "no such path"),
            Matched::Unknown,
        );
    };
    (dispatch(auth, request, index, id), Matched::Route(index))
}

/// Answers a request for `ROUTES[index]`.
fn dispatch(auth: &Auth, request: &Request, index: usize, id: Option<Id<'_>>) -> Response {
    let route = &ROUTES[index];
    // With registration closed the path does not exist, whatever the method or body.
    if route.path == "/auth/register" && !auth.config().allow_register {
        return Response::error(404, "not_found", "registration is closed");
    }
    let Some(method) = route.methods.iter().position(|m| *m == request.method) else {
        return Response::error(
            405,
            "method_not_allowed",
            &format!("{} does not accept {}", route.path, request.method),
        )
        .with_header("Allow", &route.methods.join(", "));
    };
    HANDLERS[index][method](auth, request, id).unwrap_or_else(|failure| failure)
}

/// A path's `{id}` segment.
#[derive(Debug, Clone, Copy)]
enum Id<'p> {
    /// `/notes/{id}`: a canonical positive number.
    Note(i64),
    /// `/auth/sessions/{id}`: base64url, as the server makes them.
    Session(&'p str),
}

/// The note id of `/notes/{id}` (0, which no note has, for any other path).
fn note_id(id: Option<Id<'_>>) -> i64 {
    match id {
        Some(Id::Note(id)) => id,
        _ => 0,
    }
}

/// Finds the index in [`ROUTES`] of the route for `path`, and its `{id}` if
/// it has one; a segment that no id could have means the path does not exist.
fn find_route(path: &str) -> Option<(usize, Option<Id<'_>>)> {
    if let Some(index) = ROUTES.iter().position(|r| r.path == path) {
        return Some((index, None));
    }
    let (template, id) = if let Some(text) = path.strip_prefix("/notes/") {
        // Canonical positive numbers only: `/notes/007` and `/notes/+7` do not exist.
        let id = text
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0 && id.to_string() == text)?;
        ("/notes/{id}", Id::Note(id))
    } else {
        let text = path.strip_prefix("/auth/sessions/")?;
        let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if text.is_empty() || text.len() > 64 || !text.bytes().all(base64url) {
            return None;
        }
        ("/auth/sessions/{id}", Id::Session(text))
    };
    ROUTES
        .iter()
        .position(|r| r.path == template)
        .map(|index| (index, Some(id)))
}

/// A failure is already a response; `?` carries it out.
type Handled = Result<Response, Response>;

/// What answers one method of one route, given the path's `{id}` if it has one.
type Handler = fn(&Auth, &Request, Option<Id<'_>>) -> Handled;

/// `GET /healthz`: the process lives and answers; asks nothing of the
/// database (that is `/readyz`).
fn healthz(_: &Auth, _: &Request, _: Option<Id<'_>>) -> Handled {
    Ok(Response::json(200, &serde_json::json!({"status": "ok"})))
}

/// `GET /readyz`: the database answers a trivial read within the store's
/// pool wait; any failure of it is 503 with `Retry-After` (not ready: send
/// traffic elsewhere), never a 500.
fn readyz(auth: &Auth, _: &Request, _: Option<Id<'_>>) -> Handled {
    auth.health().map_err(|e| {
        let why = match e {
            AuthError::Store(StoreError::Unavailable(why)) => why,
            _ => "the database does not answer".to_owned(),
        };
        Response::error(503, "temporarily_unavailable", &why).with_header("Retry-After", "1")
    })?;
    Ok(Response::json(200, &serde_json::json!({"status": "ready"})))
}

/// `POST /auth/register`.
fn register(auth: &Auth, request: &Request, _: Option<Id<'_>>) -> Handled {
    let body = json_body(request)?;
    let user = auth
        .register(string_field(&body, "username")?, string_field(&body, "password")?)
        .map_err(auth_failure)?;
    Ok(Response::json(
        201,
        &serde_json::json!({"id": user.id, "username": user.username}),
    ))
}

/// `POST /auth/login`.
fn login(auth: &Auth, request: &Request, _: Option<Id<'_>>) -> Handled {
    let body = json_body(request)?;
    let tokens = auth
        .login_from(
            string_field(&body, "username")?,
            string_field(&body, "password")?,
            request.client,
            request.header("user-agent").unwrap_or_default(),
        )
        .map_err(auth_failure)?;
    Ok(token_response(request, &tokens))
}

/// `POST /auth/refresh`.
fn refresh(auth: &Auth, request: &Request, _: Option<Id<'_>>) -> Handled {
    let body = json_body(request)?;
    let access = optional_string_field(&body, "access_token")?;
    let refresh_token = refresh_token(request, &body)?.ok_or_else(missing_refresh_token)?;
    let tokens = auth
        .refresh_from(refresh_token, access, request.client)
        .map_err(|e| refresh_failure(request, e))?;
    Ok(token_response(request, &tokens))
}

/// `POST /auth/logout`.
fn logout(auth: &Auth, request: &Request, _: Option<Id<'_>>) -> Handled {
    let body = json_body(request)?;
    let token = refresh_token(request, &body)?.ok_or_else(missing_refresh_token)?;
    auth.logout(token).map_err(|e| refresh_failure(request, e))?;
    Ok(forget_cookie(request, Response::empty(204)))
}

/// `POST /auth/logout-all`.
fn logout_all(auth: &Auth, request: &Request, _: Option<Id<'_>>) -> Handled {
    let principal = authenticate(auth, request)?;
    auth.logout_all(&principal).map_err(auth_failure)?;
    Ok(forget_cookie(request, Response::empty(204)))
}

/// `GET /auth/sessions`.
fn sessions(auth: &Auth, request: &Request, _: Option<Id<'_>>) -> Handled {
    let principal = authenticate(auth, request)?;
    let sessions: Vec<SessionBody> = auth
        .sessions(&principal)
        .map_err(auth_failure)?
        .into_iter()
        .map(|s| SessionBody::new(s, principal.session.as_deref()))
        .collect();
    Ok(no_store(Response::json(
        200,
        &serde_json::json!({ "sessions": sessions }),
    )))
}

/// `DELETE /auth/sessions/{id}`.
fn revoke_session(auth: &Auth, request: &Request, id: Option<Id<'_>>) -> Handled {
    let principal = authenticate(auth, request)?;
    let Some(Id::Session(session)) = id else {
        return Err(Response::error(404, "not_found", "no such path"));
    };
    auth.revoke_session(&principal, session).map_err(auth_failure)?;
    Ok(Response::empty(204))
}

/// `POST /auth/password`.
fn change_password(auth: &Auth, request: &Request, _: Option<Id<'_>>) -> Handled {
    let principal = authenticate(auth, request)?;
    let body = json_body(request)?;
    auth.change_password(
        &principal,
        string_field(&body, "current_password")?,
        string_field(&body, "new_password")?,
        request.client,
    )
    .map_err(auth_failure)?;
    Ok(Response::empty(204))
}

/// `DELETE /me`.
fn delete_account(auth: &Auth, request: &Request, _: Option<Id<'_>>) -> Handled {
    let principal = authenticate(auth, request)?;
    let body = json_body(request)?;
    auth.delete_account(&principal, string_field(&body, "password")?, request.client)
        .map_err(auth_failure)?;
    Ok(forget_cookie(request, Response::empty(204)))
}

/// `GET /me`.
fn me(auth: &Auth, request: &Request, _: Option<Id<'_>>) -> Handled {
    let principal = authenticate(auth, request)?;
    let user = auth.me(&principal).map_err(auth_failure)?;
    Ok(Response::json(
        200,
        &serde_json::json!({"id": user.id, "username": user.username, "created_at": user.created_at}),
    ))
}

/// `GET /notes`.
fn notes(auth: &Auth, request: &Request, _: Option<Id<'_>>) -> Handled {
    let principal = authenticate(auth, request)?;
    let notes: Vec<NoteBody> = auth
        .notes(&principal)
        .map_err(auth_failure)?
        .into_iter()
        .map(NoteBody::from)
        .collect();
    Ok(Response::json(200, &serde_json::json!({ "notes": notes })))
}

/// `POST /notes`.
fn create_note(auth: &Auth, request: &Request, _: Option<Id<'_>>) -> Handled {
    let principal = authenticate(auth, request)?;
    let body = json_body(request)?;
    let note = auth
        .create_note(&principal, string_field(&body, "text")?)
        .map_err(auth_failure)?;
    Ok(Response::json(201, &NoteBody::from(note)))
}

/// `GET /notes/{id}`.
fn note(auth: &Auth, request: &Request, id: Option<Id<'_>>) -> Handled {
    let principal = authenticate(auth, request)?;
    let note = auth.note(&principal, note_id(id)).map_err(auth_failure)?;
    Ok(Response::json(200, &NoteBody::from(note)))
}

/// `DELETE /notes/{id}`.
fn delete_note(auth: &Auth, request: &Request, id: Option<Id<'_>>) -> Handled {
    let principal = authenticate(auth, request)?;
    auth.delete_note(&principal, note_id(id)).map_err(auth_failure)?;
    Ok(Response::empty(204))
}

#[derive(Serialize)]
struct SessionBody {
    id: String,
    created_at: i64,
    last_used_at: i64,
    expires_at: i64,
    user_agent: String,
    current: bool,
}

impl SessionBody {
    /// `current` when `session` is the one the presented token was issued in.
    fn new(session: Session, current: Option<&str>) -> Self {
        SessionBody {
            current: current == Some(session.id.as_str()),
            id: session.id,
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: session.expires_at,
            user_agent: session.user_agent,
        }
    }
}

#[derive(Serialize)]
struct NoteBody {
    id: i64,
    text: String,
    created_at: i64,
}

impl From<Note> for NoteBody {
    fn from(note: Note) -> Self {
        NoteBody {
            id: note.id,
            text: note.text,
            created_at: note.created_at,
        }
    }
}

/// Login's and refresh's answer: the pair in the body, or for a browser
/// (see [`browser`]) the refresh token in a cookie and the rest in the body.
fn token_response(request: &Request, tokens: &TokenPair) -> Response {
    if !browser::wants_cookie(request) {
        return no_store(Response::json(200, tokens));
    }
    let body = serde_json::json!({
        "access_token": tokens.access_token,
        "token_type": tokens.token_type,
        "expires_in": tokens.expires_in,
        "refresh_expires_in": tokens.refresh_expires_in,
    });
    no_store(Response::json(200, &body)).with_header(
        "Set-Cookie",
        &browser::set_cookie(&tokens.refresh_token, tokens.refresh_expires_in),
    )
}

/// The refresh token of a refresh or logout: the body's, or for a browser
/// that opted in, its cookie's. The cookie is never read otherwise: that is
/// what keeps a cross-site request from using it.
fn refresh_token<'r>(request: &'r Request, body: &'r Value) -> Result<Option<&'r str>, Response> {
    match optional_string_field(body, "refresh_token")? {
        Some(token) => Ok(Some(token)),
        None if browser::wants_cookie(request) => Ok(browser::cookie_token(request)),
        None => Ok(None),
    }
}

fn missing_refresh_token() -> Response {
    Response::error(
        400,
        "invalid_request",
        "field `refresh_token` is required (or, with X-Refresh-Cookie: 1, the __Host-minijwt_refresh cookie)",
    )
}

/// For a browser that opted in, `response` also clears the cookie.
fn forget_cookie(request: &Request, response: Response) -> Response {
    if browser::wants_cookie(request) {
        response.with_header("Set-Cookie", &browser::clear_cookie())
    } else {
        response
    }
}

/// The answer to a failed refresh or logout. A refresh token that can never
/// work again (revoked, reused, expired, unknown) is also cleared from a
/// browser that opted in; a refusal of the access token sent beside it says
/// nothing against the cookie, which stays.
fn refresh_failure(request: &Request, error: AuthError) -> Response {
    let dead = matches!(error, AuthError::InvalidGrant(_) | AuthError::ReuseDetected);
    let response = auth_failure(error);
    if dead {
        forget_cookie(request, response)
    } else {
        response
    }
}

/// Responses that carry tokens must not be cached (RFC 6749 §5.1).
fn no_store(response: Response) -> Response {
    response
        .with_header("Cache-Control", "no-store")
        .with_header("Pragma", "no-cache")
}

/// The body as a JSON object; 415 unless it is declared `application/json`.
fn json_body(request: &Request) -> Result<Value, Response> {
    let media_type = request
        .header("Content-Type")
        .map(|v| v.split(';').next().unwrap_or_default().trim());
    if !media_type.is_some_and(|m| m.eq_ignore_ascii_case("application/json")) {
        return Err(Response::error(
            415,
            "unsupported_media_type",
            "the body must be application/json",
        ));
    }
    crate::jwt::strict_json_object(&request.body, Segment::Payload).map_err(|e| {
        let description = match e {
            JwtError::Json { message, .. } => format!("the body is not valid JSON: {message}"),
            JwtError::DuplicateMember { name, .. } => format!("the body has member {name:?} more than once"),
            _ => "the body must be a JSON object".to_owned(),
        };
        Response::error(400, "invalid_request", &description)
    })
}

fn string_field<'v>(body: &'v Value, name: &str) -> Result<&'v str, Response> {
    optional_string_field(body, name)?
        .ok_or_else(|| Response::error(400, "invalid_request", &format!("field `{name}` is required")))
}

fn optional_string_field<'v>(body: &'v Value, name: &str) -> Result<Option<&'v str>, Response> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Response::error(
            400,
            "invalid_request",
            &format!("field `{name}` must be a string"),
        )),
    }
}

/// The principal of the request's `Authorization: Bearer` token, or a 401.
fn authenticate(auth: &Auth, request: &Request) -> Result<Principal, Response> {
    let Some(header) = request.header("Authorization") else {
        return Err(unauthorized(None));
    };
    if header.len() > MAX_AUTHORIZATION {
        return Err(unauthorized(Some("the Authorization header is too long")));
    }
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("Bearer") && !token.trim().is_empty() => {
            token.trim()
        }
        _ => {
            return Err(unauthorized(Some(
                "the Authorization header must be `Bearer <token>`",
            )))
        }
    };
    auth.authenticate(token).map_err(auth_failure)
}

/// 401 with `WWW-Authenticate` (RFC 6750 §3); `description` when a token was presented.
fn unauthorized(description: Option<&str>) -> Response {
    match description {
        None => Response::error(401, "invalid_token", "an access token is required")
            .with_header("WWW-Authenticate", &format!("Bearer realm=\"{REALM}\"")),
        Some(description) => Response::error(401, "invalid_token", description).with_header(
            "WWW-Authenticate",
            &format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{}\"",
                quotable(description)
            ),
        ),
    }
}

/// Keeps a description safe inside a quoted header parameter.
fn quotable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '"' || c == '\\' || !(' '..='~').contains(&c) {
                '\''
            } else {
                c
            }
        })
        .collect()
}

/// Maps an auth failure to its response.
fn auth_failure(error: AuthError) -> Response {
    match &error {
        AuthError::InvalidRequest(why) => Response::error(400, "invalid_request", why),
        AuthError::RegistrationClosed => Response::error(404, "not_found", "registration is closed"),
        AuthError::UsernameTaken => Response::error(409, "username_taken", "that username is already taken"),
        AuthError::InvalidCredentials => {
            Response::error(401, "invalid_credentials", "wrong username or password")
        }
        AuthError::Throttled { retry_after } => Response::error(429, "too_many_requests", &error.to_string())
            .with_header("Retry-After", &retry_after.to_string()),
        AuthError::InvalidGrant(why) | AuthError::ForeignAccessToken(why) => {
            Response::error(401, "invalid_grant", why)
        }
        AuthError::ReuseDetected => Response::error(401, "invalid_grant", "refresh token reuse detected"),
        AuthError::InvalidToken { expired: true, .. } => {
            unauthorized(Some("the access token expired; refresh it"))
        }
        AuthError::InvalidToken { description, .. } => {
            unauthorized(Some(&format!("the access token is invalid: {description}")))
        }
        AuthError::NotFound => Response::error(404, "not_found", "no such resource"),
        AuthError::Busy => Response::error(503, "temporarily_unavailable", &error.to_string())
            .with_header("Retry-After", "1"),
        AuthError::Store(StoreError::Unavailable(why)) => {
            Response::error(503, "temporarily_unavailable", why).with_header("Retry-After", "1")
        }
        AuthError::Internal(why) => {
            eprintln!("minijwt: internal error: {why}");
            Response::error(500, "server_error", "internal error")
        }
        AuthError::Store(e) => {
            eprintln!("minijwt: internal error: {e}");
            Response::error(500, "server_error", "internal error")
        }
    }
}
