/**
 * The real Transport: OpenSSH's `ssh`, with the host key pinned and nothing of this machine's SSH
 * configuration in the way. The command goes to the host as plain words: the deploy key's forced
 * command there (host/bluegreen-gate) checks them and runs the release tool; no shell reads them.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { HostTarget } from "../host-commands";
import type { HostResult, Transport } from "./release";

/** A known_hosts file that pins exactly the given hosts' keys. */
export function knownHosts(hosts: readonly HostTarget[]): string {
    return hosts
        .map((h) => `${h.port === 22 ? h.address : `[${h.address}]:${h.port}`} ${h.hostKey}\n`)
        .join("");
}

/** ssh's argv for one command on one host. */
export function sshArgs(
    host: HostTarget,
    command: string,
    o: { user: string; keyFile: string; knownHostsFile: string; connectTimeout: number },
): string[] {
    // -F /dev/null: no ssh_config of this machine's applies (no ProxyCommand, ControlMaster or
    // other identity can bypass the pinned key and the given identity).
    return [
        "-F",
        "/dev/null",
        "-n",
        ...["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"],
        ...["-o", `UserKnownHostsFile=${o.knownHostsFile}`, "-o", "GlobalKnownHostsFile=/dev/null"],
        ...["-o", "IdentitiesOnly=yes", "-o", `ConnectTimeout=${o.connectTimeout}`],
        ...["-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", "-o", "LogLevel=ERROR"],
        ...["-i", o.keyFile, "-p", String(host.port), "-l", o.user, host.address],
        "--",
        command,
    ];
}

/** What SshTransport needs: who connects, with which key file, to which pinned hosts. */
export interface SshOptions {
    readonly user: string;
    readonly keyFile: string;
    readonly hosts: readonly HostTarget[];
    /** The private directory (0700) where the known_hosts file is written. */
    readonly workDir: string;
    readonly connectTimeout: number;
    /** The children's environment: the caller's, without the key. */
    readonly env: NodeJS.ProcessEnv;
}

/**
 * Runs commands on hosts with `ssh`. The key is a file (0600, in a private directory the caller
 * removes); the children's environment is the one given, which holds no key.
 */
export class SshTransport implements Transport {
    private readonly o: SshOptions;
    private readonly knownHostsFile: string;
    private readonly children = new Set<ChildProcess>();

    constructor(options: SshOptions) {
        this.o = options;
        this.knownHostsFile = path.join(options.workDir, "known_hosts");
        fs.writeFileSync(this.knownHostsFile, knownHosts(options.hosts), { mode: 0o600 });
    }

    run(host: HostTarget, command: string): Promise<HostResult> {
        const args = sshArgs(host, command, { ...this.o, knownHostsFile: this.knownHostsFile });
        return new Promise((resolve) => {
            const child = spawn("ssh", args, { env: this.o.env, stdio: ["ignore", "pipe", "pipe"] });
            this.children.add(child);
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            let done = false;
            const finish = (code: number) => {
                if (done) return;
                done = true;
                this.children.delete(child);
                resolve({ code, stdout, stderr });
            };
            // ssh missing: 127, as a shell would say; the caller reports stderr.
            child.on("error", (e) => {
                stderr += `cannot run ssh: ${e.message}\n`;
                finish(127);
            });
            child.on("close", (code, signal) =>
                finish(code ?? (signal ? 128 + (signalNumber[signal] ?? 0) : 1)),
            );
        });
    }

    /** Ends the ssh processes still running (the run was interrupted). */
    stop(signal: NodeJS.Signals): void {
        for (const child of this.children) child.kill(signal);
    }
}

const signalNumber: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGKILL: 9,
    SIGTERM: 15,
};
