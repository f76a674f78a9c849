/**
 * The real Transport: OpenSSH's `ssh`, with the host key pinned and nothing of this machine's SSH
 * configuration in the way. The command goes to the host as plain words: the deploy key's forced
 * command there (host/bluegreen-gate) checks them and runs the release tool; no shell reads them.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
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

/** Seconds an idle shared connection stays open (the run closes it at its end; this bounds a killed run's). */
export const CONTROL_PERSIST_SECONDS = 60;

/** The longest control socket path that fits a Unix socket's 108 bytes once ssh has made it unique. */
const CONTROL_PATH_MAX = 100;

/**
 * The ssh options that let one host's commands share one connection: the first command to a host
 * opens it (ControlMaster=auto), the next ones reuse it, so a host's check and release cost one
 * handshake instead of two. The socket lives in the run's private directory; where its path would
 * be too long for a Unix socket, every command makes its own connection.
 */
export function controlOptions(workDir: string): string[] {
    const controlPath = path.join(workDir, "%C"); // %C: a 40-character hash of host, port and user
    if (Buffer.byteLength(controlPath) - 2 + 40 > CONTROL_PATH_MAX) return [];
    return [
        ...["-o", "ControlMaster=auto", "-o", `ControlPath=${controlPath}`],
        ...["-o", `ControlPersist=${CONTROL_PERSIST_SECONDS}`],
    ];
}

/** ssh's argv for one command on one host. */
export function sshArgs(
    host: HostTarget,
    command: string,
    o: {
        user: string;
        keyFile: string;
        knownHostsFile: string;
        connectTimeout: number;
        control?: readonly string[];
    },
): string[] {
    // -F /dev/null: no ssh_config of this machine's applies (no ProxyCommand, ControlMaster or
    // other identity can bypass the pinned key and the given identity); the only shared connection
    // is the run's own (controlOptions).
    return [
        "-F",
        "/dev/null",
        "-n",
        ...(o.control ?? []),
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
    private readonly control: readonly string[];
    private readonly children = new Set<ChildProcess>();
    /** The hosts a command was sent to, whose shared connection may be open. */
    private readonly reached = new Map<string, HostTarget>();

    constructor(options: SshOptions) {
        this.o = options;
        this.knownHostsFile = path.join(options.workDir, "known_hosts");
        fs.writeFileSync(this.knownHostsFile, knownHosts(options.hosts), { mode: 0o600 });
        this.control = controlOptions(options.workDir);
    }

    run(host: HostTarget, command: string): Promise<HostResult> {
        this.reached.set(host.name, host);
        const args = sshArgs(host, command, {
            ...this.o,
            knownHostsFile: this.knownHostsFile,
            control: this.control,
        });
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

    /** ssh's argv that asks the shared connection to a host to close. */
    private exitArgs(host: HostTarget): string[] {
        return [
            ...["-F", "/dev/null", ...this.control, "-o", "LogLevel=QUIET"],
            ...["-p", String(host.port), "-l", this.o.user, "-O", "exit", host.address],
        ];
    }

    /** Closes the shared connections (the run is over). */
    async close(): Promise<void> {
        if (this.control.length === 0) return;
        await Promise.all(
            [...this.reached.values()].map(
                (host) =>
                    new Promise<void>((resolve) => {
                        const child = spawn("ssh", this.exitArgs(host), { env: this.o.env, stdio: "ignore" });
                        child.on("error", () => resolve());
                        child.on("close", () => resolve());
                    }),
            ),
        );
        this.reached.clear();
    }

    /** Ends the ssh processes still running and the shared connections (the run was interrupted). */
    stop(signal: NodeJS.Signals): void {
        for (const child of this.children) child.kill(signal);
        if (this.control.length === 0) return;
        for (const host of this.reached.values()) {
            spawnSync("ssh", this.exitArgs(host), { env: this.o.env, stdio: "ignore", timeout: 5000 });
        }
    }
}

const signalNumber: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGKILL: 9,
    SIGTERM: 15,
};
