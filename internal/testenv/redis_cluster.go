package testenv

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RedisCluster is a private Redis Cluster of three masters, each with one
// replica, on free ports of 127.0.0.1, started by StartRedisCluster.
type RedisCluster struct {
	t     testing.TB
	nodes []*process
	addrs []string
}

// clusterNodeTimeout is how long a master may be unreachable before its
// replica takes over: short, so that failover tests are quick.
const clusterNodeTimeout = 1000 * time.Millisecond

// StartRedisCluster starts six redis-server processes with
// --cluster-enabled yes, joins them with redis-cli --cluster create
// --cluster-replicas 1, and returns once every slot is served and every
// node reports cluster_state:ok. Every node is killed and its files removed
// when the test ends.
//
// Fault tests use this rather than any shared server, which they must
// never stop.
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		requireTool(t, "redis-server", "install it (apt-get install redis-server) or run ./scripts/test.sh as root")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		requireTool(t, "redis-cli", "install it (apt-get install redis-tools) or run ./scripts/test.sh as root")
	}
	attr, err := procAttr(nil)
	if err != nil {
		t.Fatalf("start redis cluster: %v", err)
	}
	c := &RedisCluster{t: t}
	for i := range 6 {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("node%d", i))
		port := FreePort(t)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p := &process{
			t:    t,
			name: "redis-server " + addr,
			argv: []string{
				bin,
				"--port", strconv.Itoa(port),
				"--bind", "127.0.0.1",
				"--save", "",
				"--appendonly", "no",
				"--dir", t.TempDir(),
				"--cluster-enabled", "yes",
				// nodes.conf survives a kill, so a restarted node
				// rejoins the cluster with its identity.
				"--cluster-config-file", dir + ".nodes.conf",
				"--cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout / time.Millisecond)),
				// A replica whose link is new or broken may still take
				// over: the test wants a failover, not data safety.
				"--cluster-replica-validity-factor", "0",
				"--repl-diskless-sync-delay", "0",
				"--daemonize", "no",
				"--logfile", "",
			},
			logPath: dir + ".log",
			attr:    attr,
			stopSig: syscall.SIGKILL,
			ready:   func(ctx context.Context) error { return pingRedis(ctx, addr) },
		}
		p.start()
		t.Cleanup(p.stop)
		c.nodes = append(c.nodes, p)
		c.addrs = append(c.addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, c.addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy()
	return c
}

// URL returns the cluster in go-redis's cluster URL form, as
// redis.ParseClusterURL reads it and REDIS_CLUSTER_URL takes it: every
// node, so that a client finds the cluster whichever nodes are down.
func (c *RedisCluster) URL() string {
	u := "redis://" + c.addrs[0]
	for i, a := range c.addrs[1:] {
		if i == 0 {
			u += "?addr=" + a
		} else {
			u += "&addr=" + a
		}
	}
	return u
}

// Addrs returns every node's address.
func (c *RedisCluster) Addrs() []string { return append([]string(nil), c.addrs...) }

// Masters returns the indexes (into Addrs) of the nodes that are running
// masters now.
func (c *RedisCluster) Masters() []int {
	var out []int
	for i, a := range c.addrs {
		if role, err := nodeRole(a); err == nil && role == "master" {
			out = append(out, i)
		}
	}
	return out
}

// Kill ends node i as in a crash (SIGKILL) and waits until it has exited.
func (c *RedisCluster) Kill(i int) { c.t.Helper(); c.nodes[i].stop() }

// Start runs node i again (it rejoins with its nodes.conf, a replica if
// its replica was promoted meanwhile) and waits until it answers.
func (c *RedisCluster) Start(i int) { c.t.Helper(); c.nodes[i].start() }

// WaitHealthy waits until every running node reports cluster_state:ok and
// there are three masters serving, or fails the test.
func (c *RedisCluster) WaitHealthy() {
	c.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		err := c.healthy()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			out := c.nodesView()
			c.t.Fatalf("redis cluster not healthy after %v: %v\n%s", startTimeout, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *RedisCluster) healthy() error {
	masters := 0
	for i, a := range c.addrs {
		c.nodes[i].mu.Lock()
		running := c.nodes[i].cmd != nil
		c.nodes[i].mu.Unlock()
		if !running {
			continue
		}
		info, err := redisCommand(context.Background(), a, "CLUSTER", "INFO")
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster_state not ok", a)
		}
		role, err := nodeRole(a)
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
		if role == "master" {
			masters++
			continue
		}
		// A replica counts once it has synced: only then can it take over.
		repl, err := redisCommand(context.Background(), a, "INFO", "replication")
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
		if !strings.Contains(repl, "master_link_status:up") {
			return fmt.Errorf("%s: replica not in sync with its master", a)
		}
	}
	if masters != 3 {
		return fmt.Errorf("%d running masters, want 3", masters)
	}
	return nil
}

func nodeRole(addr string) (string, error) {
	out, err := redisCommand(context.Background(), addr, "ROLE")
	if err != nil {
		return "", err
	}
	// ROLE answers an array whose first element is the role.
	for _, l := range strings.Split(out, "\n") {
		if l == "master" || l == "slave" {
			return l, nil
		}
	}
	return "", fmt.Errorf("ROLE answered %q", out)
}

// redisCommand sends one command in the wire protocol and returns the
// reply's strings joined by newlines: enough for PING, INFO-like answers
// and ROLE, with no client library and no goroutine left behind. It gives
// up at ctx's deadline, or after 2s.
func redisCommand(ctx context.Context, addr string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	var out []string
	if err := readReply(r, &out); err != nil {
		return "", err
	}
	return strings.Join(out, "\n"), nil
}

func readReply(r *bufio.Reader, out *[]string) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return fmt.Errorf("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		*out = append(*out, line[1:])
	case '-':
		return fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		*out = append(*out, strings.Split(string(buf[:n]), "\r\n")...)
	case '*':
		n, _ := strconv.Atoi(line[1:])
		for range n {
			if err := readReply(r, out); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// nodesView is CLUSTER NODES as one running node sees it, for failures.
func (c *RedisCluster) nodesView() string {
	for _, a := range c.addrs {
		if out, err := redisCommand(context.Background(), a, "CLUSTER", "NODES"); err == nil {
			return out
		}
	}
	return "(no node answers)"
}
