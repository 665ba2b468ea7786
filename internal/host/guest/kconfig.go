package guest

import (
	"context"
	"os"

	"github.com/runmatrix/runmatrix/internal/host/kernels"
	"github.com/runmatrix/runmatrix/internal/host/kernels/bootimage"
	"github.com/runmatrix/runmatrix/testcases"
)

// kernelConfig is what a run records of a kernel's build configuration:
// the options the cases' expectations name, and where they were read.
type kernelConfig struct {
	options map[string]string
	from    string
}

// kernelConfig reads k's configuration once per image: its package's
// config file, else the image's embedded one (IKCONFIG); from is "" when
// neither is there, and expectations that need it are then not judged.
func (env *Env) kernelConfig(ctx context.Context, k *kernels.Kernel) kernelConfig {
	if env.configs != nil && k.Origin.SHA256 != "" {
		if v, ok := env.configs.Load(k.Origin.SHA256); ok {
			return v.(kernelConfig)
		}
	}
	var text []byte
	from := ""
	if k.Config != "" {
		if b, err := os.ReadFile(k.Config); err == nil {
			text, from = b, "the package's config file"
		}
	}
	if from == "" {
		if b, err := bootimage.ImageConfig(ctx, k.Path); err == nil && b != nil {
			text, from = b, "the image's embedded config (IKCONFIG)"
		}
	}
	kc := kernelConfig{from: from}
	if from != "" {
		all := testcases.ParseKernelConfig(string(text))
		kc.options = map[string]string{}
		for _, name := range env.ConfigOptions {
			if v, ok := all[name]; ok {
				kc.options[name] = v
			}
		}
	}
	if env.configs != nil && k.Origin.SHA256 != "" {
		env.configs.Store(k.Origin.SHA256, kc)
	}
	return kc
}
