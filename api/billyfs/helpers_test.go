package billyfs_test

import (
	"github.com/go-git/go-git/v5/config"
)

type gitRefSpec = config.RefSpec

type gitConfigRemote struct{ url string }

func (r gitConfigRemote) config() *config.RemoteConfig {
	return &config.RemoteConfig{Name: "origin", URLs: []string{r.url}}
}
