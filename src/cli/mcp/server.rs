//! `orch mcp`: the stdio MCP server (rmcp) over the tool table in `tools.rs`.
//!
//! Standard output is the protocol and nothing else may reach it: before anything runs,
//! the real stdout is moved to a private close-on-exec descriptor for the transport and
//! descriptor 1 is pointed at stderr, so a stray `println!` in a command, or a child
//! (tmux, codex's login check) writing to its inherited stdout, lands in codex's MCP
//! log instead of corrupting the stream.

use std::os::fd::{AsFd, OwnedFd};

use anyhow::{Context, Result};
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ContentBlock, ErrorData, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer, ServiceExt};
use serde_json::Value;

use super::tools::{self, ToolDef};
use crate::store::Home;

/// What the server tells the client about itself (codex shows it to the model).
const INSTRUCTIONS: &str = "orch runs codex workers outside your sandbox, each in its own \
tmux window, with every fact on disk. Start work with spawn, fanout or run; poll with wait \
(it returns after its timeout with what still runs, so you can keep talking to the user); \
read results with result; curate several with merge instead of forwarding raw output.";

struct Orch {
    tools: Vec<ToolDef>,
}

impl ServerHandler for Orch {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("orch", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self
            .tools
            .iter()
            .map(|t| {
                Tool::new(t.name, t.description, (t.schema)())
                    .annotate(ToolAnnotations::new().read_only(t.read_only))
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, ErrorData> {
        let Some(tool) = self.tools.iter().find(|t| t.name == request.name) else {
            let names: Vec<&str> = self.tools.iter().map(|t| t.name).collect();
            return Err(ErrorData::invalid_params(
                format!("no tool {:?}; orch has {}", request.name, names.join(", ")),
                None,
            ));
        };
        let handler = tool.handler;
        let args = Value::Object(request.arguments.unwrap_or_default());
        // The operations block (files, locks, tmux, waiting): off the protocol's thread,
        // so pings and other calls are answered meanwhile.
        let outcome = tokio::task::spawn_blocking(move || {
            let home = Home::from_env()?;
            handler(&home, args)
        })
        .await
        .map_err(|e| ErrorData::internal_error(format!("the tool call panicked: {e}"), None))?;
        Ok(match outcome {
            Ok(a) => {
                let mut r = if a.failed {
                    CallToolResult::error(vec![ContentBlock::text(a.text)])
                } else {
                    CallToolResult::success(vec![ContentBlock::text(a.text)])
                };
                r.structured_content = Some(a.structured);
                r
            }
            Err(e) => {
                // The CLI's one-line message, as `orch` would print it.
                let (message, _) = crate::model::error::report(&e);
                let text = format!("orch: {}", message.unwrap_or_else(|| e.to_string()));
                CallToolResult::error(vec![ContentBlock::text(text)])
            }
        }
        .into())
    }
}

/// Serves until the client closes stdin.
pub fn serve() -> Result<i32> {
    let protocol = take_stdout()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the MCP server's runtime")?;
    runtime.block_on(async move {
        let out = tokio::fs::File::from_std(std::fs::File::from(protocol));
        let server = Orch {
            tools: tools::table(),
        };
        let running = server
            .serve((tokio::io::stdin(), out))
            .await
            .map_err(|e| anyhow::anyhow!("MCP initialisation failed: {e}"))?;
        running
            .waiting()
            .await
            .context("the MCP server stopped unexpectedly")?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}

/// The real stdout, on a descriptor no child inherits; fd 1 becomes a copy of stderr.
fn take_stdout() -> Result<OwnedFd> {
    let stdout = std::io::stdout();
    let protocol = stdout
        .as_fd()
        .try_clone_to_owned()
        .context("cannot duplicate stdout")?;
    nix::unistd::dup2_stdout(std::io::stderr().as_fd()).context("cannot redirect stdout")?;
    Ok(protocol)
}
