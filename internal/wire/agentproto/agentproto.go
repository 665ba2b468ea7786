// Package agentproto holds the JSON the guest agent prints for the runner.
package agentproto

// Probe is what `guest-agent probe` reports about the guest.
type Probe struct {
	Sysname string `json:"sysname"`
	Release string `json:"release"`
	Version string `json:"version"`
	Machine string `json:"machine"`
}
