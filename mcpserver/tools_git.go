package mcpserver

import "github.com/modelcontextprotocol/go-sdk/mcp"

func (s *server) addGitTools(ms *mcp.Server) {}
