//! The route table: every `google.api.http` binding (with its `additional_bindings`) found in a
//! descriptor pool, compiled once at start-up: template parsed, path variables, body and
//! response-body fields resolved to descriptors, the gRPC path precomputed.
//!
//! # Matching order
//!
//! Routes are tried in [`PathTemplate::specificity`] order: a template with a `:verb` first;
//! then, segment by segment from the left, a literal before `*` before `**`; then the shorter
//! template; remaining ties keep the order of the rpcs in the descriptor set. The first route
//! whose template matches the path *and* whose method is the request's wins. When templates
//! match but none has the method, the answer is 405 with every method that would have matched.
//! A path matched by a template with a `:verb` is only served by templates with a verb: the
//! `:publish` of `/v1/books/1:publish` is never taken as part of a `{book}` value by a GET.
//! Two bindings with the same method and the same template shape (same literals, wildcards and
//! verb, whatever the variable names) can never both be reached: that is a [`BuildError`].

use http::{Method, Uri};
use prost_reflect::{
    DescriptorPool, DynamicMessage, ExtensionDescriptor, FieldDescriptor, Kind, MethodDescriptor,
    Value,
};

use crate::descriptor::{self, Requirements};
use crate::template::{Capture, PathTemplate, SplitPath};

/// What a route is, for tests, logs and the server's own route listings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteInfo {
    /// The HTTP method (`custom` kinds included).
    pub method: Method,
    /// The path template as written in the proto, e.g. `/v1/{name=shelves/*}`.
    pub path: String,
    /// The rpc's full name, e.g. `library.v1.BookService.GetBook`.
    pub rpc: String,
    /// `body` of the rule: `None`, `Some("*")` or `Some(field)`.
    pub body: Option<String>,
    /// `response_body` of the rule, if set.
    pub response_body: Option<String>,
}

/// Why the route table could not be built from a descriptor set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The bytes are not a valid `FileDescriptorSet`.
    #[error("invalid descriptor set: {0}")]
    Descriptor(#[from] prost_reflect::DescriptorError),
    /// A path template does not parse.
    #[error("{rpc}: invalid path template `{template}`: {reason}")]
    Template {
        /// The rpc carrying the rule.
        rpc: String,
        /// The template text.
        template: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A rule refers to fields that do not exist or cannot be bound, or is otherwise unusable.
    #[error("{rpc}: {reason}")]
    Rule {
        /// The rpc carrying the rule.
        rpc: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two bindings match exactly the same requests.
    #[error(
        "`{method} {first}` ({first_rpc}) and `{method} {second}` ({second_rpc}) match the same requests"
    )]
    Conflict {
        /// The HTTP method both use.
        method: Method,
        /// The first template.
        first: String,
        /// Its rpc.
        first_rpc: String,
        /// The second template.
        second: String,
        /// Its rpc.
        second_rpc: String,
    },
}

/// Where the request body goes.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// No body (`body` unset): fields come from the path and the query.
    None,
    /// `body: "*"`: the whole request message, less the path-bound fields.
    Whole,
    /// `body: "field"`: one top-level field.
    Field(FieldDescriptor),
}

/// One binding, compiled.
#[derive(Debug)]
pub(crate) struct Route {
    /// What the route is, as [`crate::Transcoder::routes`] shows it.
    pub(crate) info: RouteInfo,
    /// The rpc: its input and output descriptors build and read the messages.
    pub(crate) rpc: MethodDescriptor,
    /// The parsed path template the request path is matched against.
    pub(crate) template: PathTemplate,
    /// One field chain per template variable, same order.
    pub(crate) path_fields: Vec<Vec<FieldDescriptor>>,
    /// Where the request body goes.
    pub(crate) body: Body,
    /// The reply field answered instead of the whole reply (`response_body`).
    pub(crate) response_body: Option<FieldDescriptor>,
    /// Field-number chains bound by the path or the body: the query may not set them.
    pub(crate) bound: Vec<Vec<u32>>,
    /// `/pkg.Service/Method`, ready to clone into each gRPC request.
    pub(crate) grpc_uri: Uri,
    /// Index into [`Requirements`] when the input message has REQUIRED fields to check.
    pub(crate) required: Option<usize>,
    /// Position in the descriptor set (rpc order, then binding order): the OpenAPI order.
    pub(crate) declared: usize,
}

/// The outcome of looking a request up.
pub(crate) enum Lookup<'r> {
    /// A route, with where each of its variables lies in the path.
    Found(&'r Route, Vec<Capture>),
    /// The path matches routes, none with this method: the methods that would match.
    MethodNotAllowed(Vec<Method>),
    /// No template matches the path.
    NotFound,
}

/// All routes, in matching order.
#[derive(Debug)]
pub(crate) struct RouteTable {
    /// Sorted by specificity: the matching order.
    pub(crate) routes: Vec<Route>,
    /// The REQUIRED-field checks of every route's input message.
    pub(crate) requirements: Requirements,
    /// `google.api.field_behavior`, when the pool knows it (for the OpenAPI generator).
    pub(crate) field_behavior: Option<ExtensionDescriptor>,
}

impl RouteTable {
    /// Compiles every `google.api.http` rule in `pool`.
    pub(crate) fn build(pool: &DescriptorPool) -> Result<Self, BuildError> {
        let field_behavior = pool.get_extension_by_name("google.api.field_behavior");
        let Some(http) = pool.get_extension_by_name("google.api.http") else {
            return Ok(Self {
                routes: Vec::new(),
                requirements: Requirements::default(),
                field_behavior,
            });
        };
        let mut routes = Vec::new();
        for service in pool.services() {
            for method in service.methods() {
                let options = method.options();
                if !options.has_extension(&http) {
                    continue;
                }
                let rule = options.get_extension(&http);
                let Some(rule) = rule.as_message() else {
                    continue;
                };
                compile_rule(&method, rule, true, &mut routes)?;
            }
        }
        let (requirements, index) = Requirements::build(
            routes.iter().map(|r| r.rpc.input()),
            field_behavior.as_ref(),
        );
        for route in &mut routes {
            route.required = index.get(route.rpc.input().full_name()).copied();
        }
        // Stable: equal specificity keeps descriptor-set order.
        routes.sort_by(|a, b| a.template.specificity(&b.template));
        check_conflicts(&routes)?;
        Ok(Self {
            routes,
            requirements,
            field_behavior,
        })
    }

    /// Finds the route for `method` and `path` (see the module doc for the order).
    pub(crate) fn lookup(&self, method: &Method, path: &SplitPath<'_>) -> Lookup<'_> {
        let mut allowed: Vec<Method> = Vec::new();
        let mut verb_matched = false;
        for route in &self.routes {
            // Verb templates sort first: once one matched, the path's `:verb` is a verb.
            if verb_matched && route.template.verb.is_none() {
                break;
            }
            let Some(captures) = route.template.matches(path) else {
                continue;
            };
            verb_matched |= route.template.verb.is_some();
            if route.info.method == *method {
                return Lookup::Found(route, captures);
            }
            if !allowed.contains(&route.info.method) {
                allowed.push(route.info.method.clone());
            }
        }
        if allowed.is_empty() {
            Lookup::NotFound
        } else {
            Lookup::MethodNotAllowed(allowed)
        }
    }
}

fn check_conflicts(routes: &[Route]) -> Result<(), BuildError> {
    for (i, a) in routes.iter().enumerate() {
        for b in &routes[i + 1..] {
            if a.info.method == b.info.method && a.template.same_shape(&b.template) {
                return Err(BuildError::Conflict {
                    method: a.info.method.clone(),
                    first: a.info.path.clone(),
                    first_rpc: a.info.rpc.clone(),
                    second: b.info.path.clone(),
                    second_rpc: b.info.rpc.clone(),
                });
            }
        }
    }
    Ok(())
}

fn string_field(message: &DynamicMessage, name: &str) -> Option<String> {
    if !message.has_field_by_name(name) {
        return None;
    }
    message
        .get_field_by_name(name)
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// The method and template of an `HttpRule`.
fn pattern(rule: &DynamicMessage) -> Result<(Method, String), String> {
    for (name, method) in [
        ("get", Method::GET),
        ("put", Method::PUT),
        ("post", Method::POST),
        ("delete", Method::DELETE),
        ("patch", Method::PATCH),
    ] {
        if let Some(path) = string_field(rule, name) {
            return Ok((method, path));
        }
    }
    if rule.has_field_by_name("custom")
        && let Some(custom) = rule.get_field_by_name("custom")
        && let Some(custom) = custom.as_message()
    {
        let kind = string_field(custom, "kind").unwrap_or_default();
        let path = string_field(custom, "path").unwrap_or_default();
        let method = Method::from_bytes(kind.as_bytes())
            .map_err(|_| format!("custom method kind `{kind}` is not an HTTP method"))?;
        return Ok((method, path));
    }
    Err("the HttpRule has no pattern (get, put, post, delete, patch or custom)".into())
}

fn compile_rule(
    rpc: &MethodDescriptor,
    rule: &DynamicMessage,
    top_level: bool,
    routes: &mut Vec<Route>,
) -> Result<(), BuildError> {
    let rpc_name = rpc.full_name().to_owned();
    let rule_error = |reason: String| BuildError::Rule {
        rpc: rpc_name.clone(),
        reason,
    };
    if rpc.is_client_streaming() || rpc.is_server_streaming() {
        return Err(rule_error(
            "streaming rpcs cannot be transcoded; remove the google.api.http rule".into(),
        ));
    }
    let (method, path) = pattern(rule).map_err(rule_error)?;
    let template = PathTemplate::parse(&path).map_err(|e| BuildError::Template {
        rpc: rpc_name.clone(),
        template: path.clone(),
        reason: e.to_string(),
    })?;
    let input = rpc.input();
    let output = rpc.output();

    let mut path_fields = Vec::new();
    for variable in &template.variables {
        let chain = resolve_chain(&input, &variable.field_path).map_err(|reason| {
            rule_error(format!(
                "path variable `{}`: {reason}",
                variable.field_path.join(".")
            ))
        })?;
        path_fields.push(chain);
    }
    let body_name = string_field(rule, "body").filter(|b| !b.is_empty());
    let body = match body_name.as_deref() {
        None => Body::None,
        Some("*") => Body::Whole,
        Some(name) => Body::Field(input.get_field_by_name(name).ok_or_else(|| {
            rule_error(format!(
                "body field `{name}` is not in {}",
                input.full_name()
            ))
        })?),
    };
    let response_name = string_field(rule, "response_body").filter(|b| !b.is_empty());
    let response_body = match response_name.as_deref() {
        None => None,
        Some(name) => Some(output.get_field_by_name(name).ok_or_else(|| {
            rule_error(format!(
                "response_body field `{name}` is not in {}",
                output.full_name()
            ))
        })?),
    };
    let mut bound: Vec<Vec<u32>> = path_fields
        .iter()
        .map(|chain| chain.iter().map(FieldDescriptor::number).collect())
        .collect();
    if let Body::Field(field) = &body {
        bound.push(vec![field.number()]);
    }
    let grpc_uri = Uri::try_from(format!(
        "/{}/{}",
        rpc.parent_service().full_name(),
        rpc.name()
    ))
    .map_err(|e| rule_error(format!("cannot form the gRPC path: {e}")))?;

    routes.push(Route {
        info: RouteInfo {
            method,
            path,
            rpc: rpc_name.clone(),
            body: body_name,
            response_body: response_name,
        },
        rpc: rpc.clone(),
        template,
        path_fields,
        body,
        response_body,
        bound,
        grpc_uri,
        required: None,
        declared: routes.len(),
    });

    if let Some(Value::List(bindings)) = rule
        .get_field_by_name("additional_bindings")
        .map(|v| v.into_owned())
    {
        if !top_level && !bindings.is_empty() {
            return Err(rule_error("additional_bindings cannot nest".into()));
        }
        for binding in &bindings {
            if let Some(binding) = binding.as_message() {
                compile_rule(rpc, binding, false, routes)?;
            }
        }
    }
    Ok(())
}

/// Resolves a dotted path-variable field path to descriptors: every step a singular message,
/// the last a singular scalar, enum or scalar-like well-known type.
fn resolve_chain(
    input: &prost_reflect::MessageDescriptor,
    path: &[String],
) -> Result<Vec<FieldDescriptor>, String> {
    let mut chain = Vec::with_capacity(path.len());
    let mut message = input.clone();
    for (i, name) in path.iter().enumerate() {
        let field = message
            .get_field_by_name(name)
            .ok_or_else(|| format!("no field `{name}` in {}", message.full_name()))?;
        if field.is_list() || field.is_map() {
            return Err(format!("`{name}` is repeated"));
        }
        let last = i + 1 == path.len();
        match field.kind() {
            Kind::Message(next) if !last => message = next,
            _ if last && descriptor::is_leaf(&field) => {}
            _ if last => return Err(format!("`{name}` is not a scalar field")),
            _ => return Err(format!("`{name}` is not a message field")),
        }
        chain.push(field);
    }
    Ok(chain)
}
