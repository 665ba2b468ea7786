// Command guest-agent runs inside a guest and reports what the guest kernel
// does as JSON on stdout; see package agent. It must run on Linux 2.6.32
// (built with Go 1.23).
package main

import "github.com/runmatrix/runmatrix/agent"

func main() { agent.Main() }
