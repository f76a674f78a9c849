// Command pulumi-resource-command is a small, self-written stand-in for the
// Pulumi Command provider (github.com/pulumi/pulumi-command), whose Go module
// and its dependency github.com/pulumi/pulumi-go-provider are not served by the
// Go module proxy reachable from this project's machines. See ../README.md.
//
// It implements the two resources a deployment over SSH needs, with the inputs
// and outputs of the real provider's schema (@pulumi/command 1.x):
//
//	command:local:Command   create, update, delete, triggers, dir, environment,
//	                        interpreter, stdin, addPreviousOutputInEnv, logging
//	command:remote:Command  create, update, delete, triggers, connection,
//	                        environment, stdin, addPreviousOutputInEnv, logging
//	outputs                 every input, plus stdout and stderr
//	                        (one trailing newline trimmed)
//
// Semantics follow the real provider: create runs on create; a change to any
// input runs update (or create again when update is unset); a change to
// triggers replaces the resource; delete runs on delete; preview runs nothing;
// the previous stdout/stderr are passed as PULUMI_COMMAND_STDOUT and
// PULUMI_COMMAND_STDERR when addPreviousOutputInEnv is true (the default).
// Remote commands run over SSH (golang.org/x/crypto/ssh): password, private
// key (optionally encrypted), SSH agent, a pinned hostKey (otherwise the host
// key is not checked, as in the real provider), a proxy (bastion) connection,
// dialErrorLimit and perDialTimeout; environment is sent with SSH "env"
// requests, which the server must accept (AcceptEnv).
// Not implemented (Check rejects them with a clear message): assetPaths and
// archivePaths, and the command:remote:CopyFile/CopyToRemote resources.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Version is the plugin version reported to the engine; set with
// -ldflags "-X main.Version=<version>" to the @pulumi/command version the
// project pins, so the engine's plugin version checks line up.
var Version = "0.0.0-dev"

const (
	localCommand  = "command:local:Command"
	remoteCommand = "command:remote:Command"
)

// inputKeys are the input properties of each supported resource type.
var inputKeys = map[string][]resource.PropertyKey{
	localCommand: {
		"addPreviousOutputInEnv", "archivePaths", "assetPaths", "create", "delete", "dir",
		"environment", "interpreter", "logging", "stdin", "triggers", "update",
	},
	remoteCommand: {
		"addPreviousOutputInEnv", "connection", "create", "delete", "environment",
		"logging", "stdin", "triggers", "update",
	},
}

func main() {
	err := provider.Main("command", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return plugin.NewProviderServer(&commandProvider{host: host}), nil
	})
	if err != nil {
		cmdutil.ExitError(err.Error())
	}
}

type commandProvider struct {
	plugin.UnimplementedProvider
	host *provider.HostClient
}

func (p *commandProvider) Handshake(
	context.Context, plugin.ProviderHandshakeRequest,
) (*plugin.ProviderHandshakeResponse, error) {
	return &plugin.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (p *commandProvider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v, err := semver.ParseTolerant(Version)
	if err != nil {
		return plugin.PluginInfo{}, fmt.Errorf("invalid plugin version %q: %w", Version, err)
	}
	return plugin.PluginInfo{Version: &v}, nil
}

func (p *commandProvider) CheckConfig(
	_ context.Context, req plugin.CheckConfigRequest,
) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

func (p *commandProvider) DiffConfig(context.Context, plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	return plugin.DiffResult{Changes: plugin.DiffNone}, nil
}

func (p *commandProvider) Configure(context.Context, plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	return plugin.ConfigureResponse{}, nil
}

func (p *commandProvider) SignalCancellation(context.Context) error { return nil }

func (p *commandProvider) Close() error { return nil }

func (p *commandProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	typ := string(req.Type)
	if _, ok := inputKeys[typ]; !ok {
		return plugin.CheckResponse{}, fmt.Errorf(
			"resource type %s is not implemented by this pulumi-resource-command stand-in (only %s and %s)",
			typ, localCommand, remoteCommand)
	}
	news := req.News.Copy()
	var failures []plugin.CheckFailure
	for _, k := range []resource.PropertyKey{"assetPaths", "archivePaths"} {
		if v, ok := news[k]; ok && !v.IsNull() {
			failures = append(failures, plugin.CheckFailure{
				Property: k,
				Reason:   string(k) + " is not supported by this pulumi-resource-command stand-in",
			})
		}
	}
	if typ == remoteCommand {
		if v, ok := lookup(news, "connection"); !ok || (!v.IsObject() && !v.ContainsUnknowns()) {
			failures = append(failures, plugin.CheckFailure{Property: "connection", Reason: "missing connection"})
		}
	}
	if v, ok := news["addPreviousOutputInEnv"]; !ok || v.IsNull() {
		news["addPreviousOutputInEnv"] = resource.NewProperty(true)
	}
	return plugin.CheckResponse{Properties: news, Failures: failures}, nil
}

func (p *commandProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	var changed, replace []resource.PropertyKey
	for _, k := range inputKeys[string(req.Type)] {
		if valueChanged(req.OldInputs[k], req.NewInputs[k]) {
			changed = append(changed, k)
			if k == "triggers" {
				replace = append(replace, k)
			}
		}
	}
	if len(changed) == 0 {
		return plugin.DiffResult{Changes: plugin.DiffNone}, nil
	}
	detailed := map[string]plugin.PropertyDiff{}
	for _, k := range changed {
		kind := plugin.DiffUpdate
		if k == "triggers" {
			kind = plugin.DiffUpdateReplace
		}
		detailed[string(k)] = plugin.PropertyDiff{Kind: kind, InputDiff: true}
	}
	return plugin.DiffResult{
		Changes:      plugin.DiffSome,
		ChangedKeys:  changed,
		ReplaceKeys:  replace,
		DetailedDiff: detailed,
	}, nil
}

func (p *commandProvider) Create(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	id, err := resource.NewUniqueHex(req.Name, 8, 0)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	typ := string(req.Type)
	state := inputsOf(typ, req.Properties)
	if req.Preview {
		setUnknownOutputs(state)
		return plugin.CreateResponse{ID: resource.ID(id), Properties: state}, nil
	}
	cmd, _ := stringInput(state, "create")
	stdout, stderr, err := p.run(ctx, typ, req.URN, cmd, state, nil)
	setOutputs(typ, state, stdout, stderr)
	if err != nil {
		return plugin.CreateResponse{ID: resource.ID(id), Properties: state, Status: resource.StatusPartialFailure}, err
	}
	return plugin.CreateResponse{ID: resource.ID(id), Properties: state}, nil
}

func (p *commandProvider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	// Nothing to look up: a command's state is what it printed last time.
	return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State}}, nil
}

func (p *commandProvider) Update(ctx context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	typ := string(req.Type)
	state := inputsOf(typ, req.NewInputs)
	if req.Preview {
		setUnknownOutputs(state)
		return plugin.UpdateResponse{Properties: state}, nil
	}
	cmd, ok := stringInput(state, "update")
	if !ok {
		cmd, _ = stringInput(state, "create")
	}
	stdout, stderr, err := p.run(ctx, typ, req.URN, cmd, state, req.OldOutputs)
	if cmd == "" {
		// Nothing ran: keep the previous outputs.
		stdout, _ = stringInput(req.OldOutputs, "stdout")
		stderr, _ = stringInput(req.OldOutputs, "stderr")
	}
	setOutputs(typ, state, stdout, stderr)
	if err != nil {
		return plugin.UpdateResponse{Properties: state, Status: resource.StatusPartialFailure}, err
	}
	return plugin.UpdateResponse{Properties: state}, nil
}

func (p *commandProvider) Delete(ctx context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	state := req.Outputs
	if len(state) == 0 {
		state = req.Inputs
	}
	cmd, _ := stringInput(state, "delete")
	_, _, err := p.run(ctx, string(req.Type), req.URN, cmd, state, state)
	return plugin.DeleteResponse{}, err
}

// run runs cmd (when non-empty) locally or over SSH with the settings in props;
// prev holds the outputs of the previous create/update, for PULUMI_COMMAND_STDOUT/STDERR.
func (p *commandProvider) run(
	ctx context.Context, typ string, urn resource.URN, cmd string, props, prev resource.PropertyMap,
) (string, string, error) {
	if cmd == "" {
		return "", "", nil
	}
	env := map[string]string{}
	if v, ok := lookup(props, "environment"); ok && v.IsObject() {
		m := v.ObjectValue()
		for _, k := range m.StableKeys() {
			if s := unwrap(m[k]); s.IsString() {
				env[string(k)] = s.StringValue()
			}
		}
	}
	prevEnv := map[string]string{}
	addPrev := true
	if v, ok := lookup(props, "addPreviousOutputInEnv"); ok && v.IsBool() {
		addPrev = v.BoolValue()
	}
	if addPrev && prev != nil {
		if s, ok := stringInput(prev, "stdout"); ok {
			prevEnv["PULUMI_COMMAND_STDOUT"] = s
		}
		if s, ok := stringInput(prev, "stderr"); ok {
			prevEnv["PULUMI_COMMAND_STDERR"] = s
		}
	}
	var stdin io.Reader
	if s, ok := stringInput(props, "stdin"); ok && s != "" {
		stdin = strings.NewReader(s)
	}
	logging, _ := stringInput(props, "logging")
	if logging == "" {
		logging = "stdoutAndStderr"
	}

	var stdout, stderr bytes.Buffer
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(2)
	go p.copyLines(ctx, urn, &wg, outR, &stdout, logging == "stdout" || logging == "stdoutAndStderr")
	go p.copyLines(ctx, urn, &wg, errR, &stderr, logging == "stderr" || logging == "stdoutAndStderr")

	var runErr error
	if typ == remoteCommand {
		runErr = p.runRemote(ctx, urn, cmd, props, env, prevEnv, stdin, outW, errW)
	} else {
		runErr = runLocal(ctx, cmd, props, env, prevEnv, stdin, outW, errW)
	}
	_ = outW.Close()
	_ = errW.Close()
	wg.Wait()

	so := strings.TrimSuffix(stdout.String(), "\n")
	se := strings.TrimSuffix(stderr.String(), "\n")
	if runErr != nil {
		return so, se, fmt.Errorf("%w: running %q:\n%s\n%s", runErr, cmd, so, se)
	}
	return so, se, nil
}

func runLocal(
	ctx context.Context, cmd string, props resource.PropertyMap, env, prevEnv map[string]string,
	stdin io.Reader, stdout, stderr io.Writer,
) error {
	args := []string{"/bin/sh", "-c"}
	if v, ok := lookup(props, "interpreter"); ok && v.IsArray() && len(v.ArrayValue()) > 0 {
		args = args[:0]
		for _, a := range v.ArrayValue() {
			a = unwrap(a)
			if !a.IsString() {
				return errors.New("interpreter must be a list of strings")
			}
			args = append(args, a.StringValue())
		}
	}
	args = append(args, cmd)
	c := exec.CommandContext(ctx, args[0], args[1:]...) //nolint:gosec // running commands is this provider's job
	if dir, ok := stringInput(props, "dir"); ok {
		c.Dir = dir
	}
	c.Env = os.Environ()
	for _, m := range []map[string]string{prevEnv, env} {
		for k, v := range m {
			c.Env = append(c.Env, k+"="+v)
		}
	}
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	return c.Run()
}

func (p *commandProvider) runRemote(
	ctx context.Context, urn resource.URN, cmd string, props resource.PropertyMap, env, prevEnv map[string]string,
	stdin io.Reader, stdout, stderr io.Writer,
) error {
	v, ok := lookup(props, "connection")
	if !ok || !v.IsObject() {
		return errors.New("missing connection")
	}
	client, closeAll, err := dialConnection(ctx, v.ObjectValue())
	if err != nil {
		return err
	}
	defer closeAll()
	session, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("opening SSH session: %w", err)
	}
	defer session.Close()
	for k, val := range prevEnv {
		if err := session.Setenv(k, val); err != nil && p.host != nil {
			_ = p.host.Log(ctx, diag.Debug, urn, fmt.Sprintf("could not set %s on the remote host: %v", k, err))
		}
	}
	for k, val := range env {
		if err := session.Setenv(k, val); err != nil {
			return fmt.Errorf("unable to set %q: this only works if the SSH server accepts it via AcceptEnv: %w", k, err)
		}
	}
	session.Stdin, session.Stdout, session.Stderr = stdin, stdout, stderr
	done := make(chan error, 1)
	go func() { done <- session.Run(cmd) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGTERM)
		_ = session.Close()
		return ctx.Err()
	}
}

// sshTarget is one hop of a connection (the host, or its proxy/bastion).
type sshTarget struct {
	addr           string
	config         *ssh.ClientConfig
	dialErrorLimit int
	perDialTimeout time.Duration
}

func parseTarget(m resource.PropertyMap) (*sshTarget, []io.Closer, error) {
	host, ok := stringInput(m, "host")
	if !ok || host == "" {
		return nil, nil, errors.New("connection.host is required")
	}
	port := 22
	if v, ok := lookup(m, "port"); ok && v.IsNumber() {
		port = int(v.NumberValue())
	}
	user, ok := stringInput(m, "user")
	if !ok || user == "" {
		user = "root"
	}
	t := &sshTarget{
		addr:           net.JoinHostPort(host, strconv.Itoa(port)),
		dialErrorLimit: 10,
		perDialTimeout: 15 * time.Second,
		config:         &ssh.ClientConfig{User: user, HostKeyCallback: ssh.InsecureIgnoreHostKey()}, //nolint:gosec // as the real provider, unless hostKey is set
	}
	if v, ok := lookup(m, "dialErrorLimit"); ok && v.IsNumber() {
		t.dialErrorLimit = int(v.NumberValue())
	}
	if v, ok := lookup(m, "perDialTimeout"); ok && v.IsNumber() && v.NumberValue() > 0 {
		t.perDialTimeout = time.Duration(v.NumberValue() * float64(time.Second))
	}
	t.config.Timeout = t.perDialTimeout
	if hk, ok := stringInput(m, "hostKey"); ok && hk != "" {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hk))
		if err != nil {
			return nil, nil, fmt.Errorf("parsing connection.hostKey: %w", err)
		}
		t.config.HostKeyCallback = ssh.FixedHostKey(key)
	}
	var closers []io.Closer
	if key, ok := stringInput(m, "privateKey"); ok && key != "" {
		var signer ssh.Signer
		var err error
		if pass, ok := stringInput(m, "privateKeyPassword"); ok && pass != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(pass))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(key))
		}
		if err != nil {
			return nil, nil, fmt.Errorf("parsing connection.privateKey: %w", err)
		}
		t.config.Auth = append(t.config.Auth, ssh.PublicKeys(signer))
	}
	if pass, ok := stringInput(m, "password"); ok && pass != "" {
		t.config.Auth = append(t.config.Auth, ssh.Password(pass),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pass
				}
				return answers, nil
			}))
	}
	sock, ok := stringInput(m, "agentSocketPath")
	if !ok || sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, nil, fmt.Errorf("connecting to the SSH agent at %s: %w", sock, err)
		}
		closers = append(closers, conn)
		t.config.Auth = append(t.config.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	return t, closers, nil
}

// dialRetry runs dial until it succeeds or the target's dialErrorLimit is reached (-1: no limit).
func dialRetry[T any](ctx context.Context, t *sshTarget, dial func() (T, error)) (T, error) {
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		c, err := dial()
		if err == nil {
			return c, nil
		}
		if t.dialErrorLimit >= 0 && attempt >= t.dialErrorLimit {
			return c, fmt.Errorf("dialing %s (%d attempts): %w", t.addr, attempt, err)
		}
		select {
		case <-ctx.Done():
			return c, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

func dialConnection(ctx context.Context, conn resource.PropertyMap) (*ssh.Client, func(), error) {
	var closers []io.Closer
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i].Close()
		}
	}
	target, cl, err := parseTarget(conn)
	closers = append(closers, cl...)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	var proxy *sshTarget
	if v, ok := lookup(conn, "proxy"); ok && v.IsObject() {
		proxy, cl, err = parseTarget(v.ObjectValue())
		closers = append(closers, cl...)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("proxy: %w", err)
		}
	}
	dialer := &net.Dialer{Timeout: target.perDialTimeout}
	var client *ssh.Client
	if proxy == nil {
		client, err = dialRetry(ctx, target, func() (*ssh.Client, error) {
			return sshDial(ctx, dialer, nil, target)
		})
	} else {
		var bastion *ssh.Client
		bastion, err = dialRetry(ctx, proxy, func() (*ssh.Client, error) {
			return sshDial(ctx, &net.Dialer{Timeout: proxy.perDialTimeout}, nil, proxy)
		})
		if err == nil {
			closers = append(closers, bastion)
			client, err = dialRetry(ctx, target, func() (*ssh.Client, error) {
				return sshDial(ctx, nil, bastion, target)
			})
		}
	}
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	closers = append(closers, client)
	return client, closeAll, nil
}

// sshDial opens an SSH client to t, directly (via d) or through an SSH bastion.
func sshDial(ctx context.Context, d *net.Dialer, bastion *ssh.Client, t *sshTarget) (*ssh.Client, error) {
	var nc net.Conn
	var err error
	if bastion != nil {
		nc, err = bastion.DialContext(ctx, "tcp", t.addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", t.addr)
	}
	if err != nil {
		return nil, err
	}
	c, chans, reqs, err := ssh.NewClientConn(nc, t.addr, t.config)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

func (p *commandProvider) copyLines(
	ctx context.Context, urn resource.URN, wg *sync.WaitGroup, r io.Reader, buf *bytes.Buffer, logLines bool,
) {
	defer wg.Done()
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		buf.WriteString(line)
		if logLines && line != "" && p.host != nil {
			_ = p.host.LogStatus(ctx, diag.Info, urn, strings.TrimSuffix(line, "\n"))
		}
		if err != nil {
			_, _ = io.Copy(buf, br)
			return
		}
	}
}

// inputsOf returns the input properties of props (dropping any outputs).
func inputsOf(typ string, props resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for _, k := range inputKeys[typ] {
		if v, ok := props[k]; ok {
			out[k] = v
		}
	}
	return out
}

func setUnknownOutputs(state resource.PropertyMap) {
	state["stdout"] = resource.MakeComputed(resource.NewProperty(""))
	state["stderr"] = resource.MakeComputed(resource.NewProperty(""))
}

// setOutputs records stdout/stderr. They are secret when an input they depend
// on is secret (for a remote command, the always-secret connection does not count).
func setOutputs(typ string, state resource.PropertyMap, stdout, stderr string) {
	so, se := resource.NewProperty(stdout), resource.NewProperty(stderr)
	secret := false
	for k, v := range state {
		if typ == remoteCommand && k == "connection" {
			continue
		}
		secret = secret || v.ContainsSecrets()
	}
	if secret {
		so, se = resource.MakeSecret(so), resource.MakeSecret(se)
	}
	state["stdout"], state["stderr"] = so, se
}

func lookup(props resource.PropertyMap, k resource.PropertyKey) (resource.PropertyValue, bool) {
	v, ok := props[k]
	if !ok {
		return resource.PropertyValue{}, false
	}
	v = unwrap(v)
	return v, !v.IsNull()
}

func stringInput(props resource.PropertyMap, k resource.PropertyKey) (string, bool) {
	v, ok := lookup(props, k)
	if !ok || !v.IsString() {
		return "", false
	}
	return v.StringValue(), true
}

// unwrap strips secret and (known) output wrappers from a value.
func unwrap(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput() && v.OutputValue().Known:
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

func valueChanged(a, b resource.PropertyValue) bool {
	aNull := a.V == nil || a.IsNull()
	bNull := b.V == nil || b.IsNull()
	if aNull || bNull {
		return aNull != bNull
	}
	if b.ContainsUnknowns() {
		return true
	}
	return !a.DeepEquals(b)
}
