# The benchmark policy for OPA-Envoy: the same 50 rules as ../agentwarden/policy.yaml,
# over the same Envoy CheckRequest. `allow` is the decision (config.yaml: path
# envoy/authz/allow): true when some allow rule matches and no deny rule does.
#
# Written the way OPA's docs recommend for speed: host and method compared directly on
# `input` refs (so the rule index picks the candidate rules), paths matched on
# OPA-Envoy's `input.parsed_path` (segments, query removed), query on
# `input.parsed_query` (name -> list of values), the MCP JSON-RPC body on
# `input.parsed_body` (OPA-Envoy parses JSON bodies).
package envoy.authz

import rego.v1

default allow := false

allow if {
	allowed
	not denied
}

# --- api.github.com -------------------------------------------------------------
# gh-read-repo
allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["repos", _, _]
}

# gh-read-issues
allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["repos", _, _, "issues"]
}

allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["repos", _, _, "issues", _]
}

allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["repos", _, _, "issues", _, "comments"]
}

# gh-comment
allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "POST"
	input.parsed_path = ["repos", _, _, "issues", _, "comments"]
	input.attributes.request.http.headers["x-github-api-version"] == "2022-11-28"
}

# gh-read-pulls
allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["repos", _, _, "pulls"]
}

allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["repos", _, _, "pulls", _]
}

allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["repos", _, _, "pulls", _, "files"]
}

# gh-create-pull
allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "POST"
	input.parsed_path = ["repos", "acme", _, "pulls"]
}

# gh-contents: /repos/{owner}/{repo}/contents/**
allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "GET"
	count(input.parsed_path) >= 4
	input.parsed_path[0] == "repos"
	input.parsed_path[3] == "contents"
}

# gh-commits
allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["repos", _, _, "commits"]
}

allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["repos", _, _, "commits", _]
}

# gh-actions-read
allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["repos", _, _, "actions", "runs"]
}

allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["repos", _, _, "actions", "runs", _]
}

# gh-search
allowed if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path in [["search", "code"], ["search", "issues"]]
	input.parsed_query.q
}

# gh-no-hooks: /repos/{owner}/{repo}/hooks/**
denied if {
	input.attributes.request.http.host == "api.github.com"
	count(input.parsed_path) >= 4
	input.parsed_path[0] == "repos"
	input.parsed_path[3] == "hooks"
}

# gh-no-delete
denied if {
	input.attributes.request.http.host == "api.github.com"
	input.attributes.request.http.method == "DELETE"
}

# gh-no-admin: /orgs/{org}/members/**, /repos/{owner}/{repo}/collaborators/**
denied if {
	input.attributes.request.http.host == "api.github.com"
	count(input.parsed_path) >= 3
	input.parsed_path[0] == "orgs"
	input.parsed_path[2] == "members"
}

denied if {
	input.attributes.request.http.host == "api.github.com"
	count(input.parsed_path) >= 4
	input.parsed_path[0] == "repos"
	input.parsed_path[3] == "collaborators"
}

# --- jira.internal --------------------------------------------------------------
# jira-read-issue
allowed if {
	input.attributes.request.http.host == "jira.internal"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["rest", "api", "3", "issue", _]
}

allowed if {
	input.attributes.request.http.host == "jira.internal"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["rest", "api", "3", "issue", _, "comment"]
}

# jira-search
allowed if {
	input.attributes.request.http.host == "jira.internal"
	input.attributes.request.http.method == "GET"
	input.parsed_path == ["rest", "api", "3", "search"]
	to_number(input.parsed_query.maxResults[0]) <= 100
}

# jira-comment
allowed if {
	input.attributes.request.http.host == "jira.internal"
	input.attributes.request.http.method == "POST"
	input.parsed_path = ["rest", "api", "3", "issue", _, "comment"]
}

# jira-transition
allowed if {
	input.attributes.request.http.host == "jira.internal"
	input.attributes.request.http.method == "POST"
	input.parsed_path = ["rest", "api", "3", "issue", _, "transitions"]
	input.attributes.request.http.headers["x-agent-approval"] == "granted"
}

# jira-projects
allowed if {
	input.attributes.request.http.host == "jira.internal"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["rest", "api", "3", "project"]
}

allowed if {
	input.attributes.request.http.host == "jira.internal"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["rest", "api", "3", "project", _]
}

# jira-no-delete: DELETE /rest/api/3/issue/**
denied if {
	input.attributes.request.http.host == "jira.internal"
	input.attributes.request.http.method == "DELETE"
	count(input.parsed_path) >= 4
	array.slice(input.parsed_path, 0, 4) == ["rest", "api", "3", "issue"]
}

# --- slack.com ------------------------------------------------------------------
# slack-post
allowed if {
	input.attributes.request.http.host == "slack.com"
	input.attributes.request.http.method == "POST"
	input.parsed_path == ["api", "chat.postMessage"]
	input.attributes.request.http.headers["x-slack-channel"] in {"C-eng", "C-support"}
}

# slack-read
allowed if {
	input.attributes.request.http.host == "slack.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path in [["api", "conversations.history"], ["api", "conversations.list"], ["api", "users.info"]]
}

# slack-react
allowed if {
	input.attributes.request.http.host == "slack.com"
	input.attributes.request.http.method == "POST"
	input.parsed_path == ["api", "reactions.add"]
}

# slack-files
allowed if {
	input.attributes.request.http.host == "slack.com"
	input.attributes.request.http.method == "POST"
	input.parsed_path == ["api", "files.upload"]
	input.parsed_query.channels
}

# slack-no-admin
denied if {
	input.attributes.request.http.host == "slack.com"
	input.parsed_path in [["api", "admin.users.remove"], ["api", "admin.conversations.delete"], ["api", "admin.apps.approve"]]
}

# --- package registries ---------------------------------------------------------
# npm-metadata
allowed if {
	input.attributes.request.http.host == "registry.npmjs.org"
	input.attributes.request.http.method == "GET"
	count(input.parsed_path) in {1, 2}
	every s in input.parsed_path { s != "" }
}

# npm-tarball
allowed if {
	input.attributes.request.http.host == "registry.npmjs.org"
	input.attributes.request.http.method == "GET"
	input.parsed_path = [_, "-", _]
}

allowed if {
	input.attributes.request.http.host == "registry.npmjs.org"
	input.attributes.request.http.method == "GET"
	input.parsed_path = [_, _, "-", _]
}

# npm-no-publish
denied if {
	input.attributes.request.http.host == "registry.npmjs.org"
	input.attributes.request.http.method in {"PUT", "DELETE"}
}

# pypi-read
allowed if {
	input.attributes.request.http.host == "pypi.org"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["pypi", _, "json"]
}

allowed if {
	input.attributes.request.http.host == "pypi.org"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["simple", _]
}

# pypi-files: /packages/**
allowed if {
	input.attributes.request.http.host == "files.pythonhosted.org"
	input.attributes.request.http.method == "GET"
	input.parsed_path[0] == "packages"
}

# go-proxy
allowed if {
	input.attributes.request.http.host == "proxy.golang.org"
	input.attributes.request.http.method == "GET"
}

# --- api.openai.com -------------------------------------------------------------
# llm-chat
allowed if {
	input.attributes.request.http.host == "api.openai.com"
	input.attributes.request.http.method == "POST"
	input.parsed_path in [["v1", "chat", "completions"], ["v1", "responses"]]
	input.attributes.request.http.headers["openai-project"] == "proj-agents"
}

# llm-embeddings
allowed if {
	input.attributes.request.http.host == "api.openai.com"
	input.attributes.request.http.method == "POST"
	input.parsed_path == ["v1", "embeddings"]
}

# llm-models
allowed if {
	input.attributes.request.http.host == "api.openai.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["v1", "models"]
}

allowed if {
	input.attributes.request.http.host == "api.openai.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["v1", "models", _]
}

# llm-no-files: /v1/files/**, /v1/fine_tuning/**
denied if {
	input.attributes.request.http.host == "api.openai.com"
	input.parsed_path[0] == "v1"
	input.parsed_path[1] in {"files", "fine_tuning"}
}

# --- api.internal ---------------------------------------------------------------
# users-read
allowed if {
	input.attributes.request.http.host == "api.internal"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["v1", "users", _]
}

# orders-list
allowed if {
	input.attributes.request.http.host == "api.internal"
	input.attributes.request.http.method == "GET"
	input.parsed_path == ["v1", "orders"]
	input.parsed_query.status[0] in {"open", "shipped"}
}

# orders-read
allowed if {
	input.attributes.request.http.host == "api.internal"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["v1", "orders", _]
}

allowed if {
	input.attributes.request.http.host == "api.internal"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["v1", "orders", _, "items"]
}

# orders-update
allowed if {
	input.attributes.request.http.host == "api.internal"
	input.attributes.request.http.method == "PATCH"
	input.parsed_path = ["v1", "orders", _]
	input.attributes.request.http.headers["x-agent-approval"] == "granted"
}

# inventory-read: /v1/inventory/**
allowed if {
	input.attributes.request.http.host == "api.internal"
	input.attributes.request.http.method == "GET"
	count(input.parsed_path) >= 2
	array.slice(input.parsed_path, 0, 2) == ["v1", "inventory"]
}

# users-no-pii: /v1/users/{id}/ssn, /v1/users/{id}/payment-methods/**
denied if {
	input.attributes.request.http.host == "api.internal"
	input.parsed_path = ["v1", "users", _, "ssn"]
}

denied if {
	input.attributes.request.http.host == "api.internal"
	count(input.parsed_path) >= 4
	input.parsed_path[0] == "v1"
	input.parsed_path[1] == "users"
	input.parsed_path[3] == "payment-methods"
}

# internal-no-admin: /admin/**
denied if {
	input.attributes.request.http.host == "api.internal"
	input.parsed_path[0] == "admin"
}

# --- storage.googleapis.com -----------------------------------------------------
# gcs-read-artifacts
allowed if {
	input.attributes.request.http.host == "storage.googleapis.com"
	input.attributes.request.http.method == "GET"
	input.parsed_path = ["storage", "v1", "b", "agent-artifacts", "o", _]
}

# gcs-upload-artifacts
allowed if {
	input.attributes.request.http.host == "storage.googleapis.com"
	input.attributes.request.http.method == "POST"
	input.parsed_path == ["upload", "storage", "v1", "b", "agent-artifacts", "o"]
	input.parsed_query.uploadType[0] == "media"
}

# --- docs and blocked hosts -----------------------------------------------------
# docs-read
allowed if {
	input.attributes.request.http.host == "docs.internal"
	input.attributes.request.http.method == "GET"
}

# block-billing, block-metadata, block-paste
denied if input.attributes.request.http.host in {
	"billing.internal", "api.stripe.com",
	"169.254.169.254", "metadata.google.internal",
	"pastebin.com", "transfer.sh",
}

# --- mcp.tools.internal (MCP over streamable HTTP) ------------------------------
# The body as one complete JSON-RPC 2.0 request, else undefined.
mcp := input.parsed_body if {
	not input.attributes.request.http.headers["x-envoy-auth-partial-body"] == "true"
	input.parsed_body.jsonrpc == "2.0"
	is_string(input.parsed_body.method)
}

# mcp-session
allowed if {
	input.attributes.request.http.host == "mcp.tools.internal"
	input.attributes.request.http.method == "POST"
	input.parsed_path == ["mcp"]
	mcp.method in {"initialize", "notifications/initialized", "tools/list"}
}

# mcp-search-docs
allowed if {
	input.attributes.request.http.host == "mcp.tools.internal"
	input.attributes.request.http.method == "POST"
	input.parsed_path == ["mcp"]
	mcp.method == "tools/call"
	mcp.params.name == "search_docs"
	mcp.params.arguments.limit <= 20
}

# mcp-read-file
allowed if {
	input.attributes.request.http.host == "mcp.tools.internal"
	input.attributes.request.http.method == "POST"
	input.parsed_path == ["mcp"]
	mcp.method == "tools/call"
	mcp.params.name == "read_file"
}

# mcp-no-shell
denied if {
	input.attributes.request.http.host == "mcp.tools.internal"
	mcp.method == "tools/call"
	mcp.params.name in {"run_shell", "delete_repo"}
}
