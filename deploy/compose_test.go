package deploy

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// composeCommand is Compose v2 (docker compose) where the docker client
// has it, else the standalone docker-compose (Debian ships v1), else nil.
func composeCommand() []string {
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	return nil
}

// TestComposeConfig: docker-compose.yml passes `docker compose config`
// (no engine needed), with and without the cluster profile, and names the
// three instances behind the load balancer, and the six Redis nodes and
// their init under the profile. It skips where no Compose client is
// installed (apt-get install docker-compose).
func TestComposeConfig(t *testing.T) {
	t.Parallel()
	cmd := composeCommand()
	if cmd == nil {
		t.Skip("no Compose client: neither `docker compose` nor docker-compose (apt-get install docker-compose)")
	}
	run := func(args ...string) string {
		t.Helper()
		c := exec.Command(cmd[0], append(append(cmd[1:], "-f", "../docker-compose.yml"), args...)...)
		c.Env = append(os.Environ(), "ADMIN_TOKEN=compose-config-check-0123456789")
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", strings.Join(cmd, " "), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("config", "-q")
	run("--profile", "cluster", "config", "-q")

	base := strings.Fields(run("config", "--services"))
	for _, s := range []string{"postgres", "redis", "migrate", "queueless1", "queueless2", "queueless3", "lb"} {
		if !slices.Contains(base, s) {
			t.Errorf("services without a profile %v lack %s", base, s)
		}
	}
	// Compose v1 lists every service whatever the profiles; v2 the
	// active ones only.
	if cmd[0] == "docker" && slices.Contains(base, "redis-node-1") {
		t.Errorf("the Redis Cluster nodes start without the cluster profile: %v", base)
	}
	cluster := strings.Fields(run("--profile", "cluster", "config", "--services"))
	for _, s := range []string{"redis-node-1", "redis-node-2", "redis-node-3", "redis-node-4", "redis-node-5", "redis-node-6", "redis-cluster-init", "queueless1", "lb"} {
		if !slices.Contains(cluster, s) {
			t.Errorf("services of the cluster profile %v lack %s", cluster, s)
		}
	}

	// Without ADMIN_TOKEN the file refuses to resolve.
	c := exec.Command(cmd[0], append(cmd[1:], "-f", "../docker-compose.yml", "config", "-q")...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ADMIN_TOKEN=") {
			c.Env = append(c.Env, kv)
		}
	}
	if out, err := c.CombinedOutput(); err == nil {
		t.Errorf("config passed without ADMIN_TOKEN; want it refused\n%s", out)
	}
}
