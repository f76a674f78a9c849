/**
 * Writes the machine's copy of Pulumi.local.yaml: the committed file, with what differs per machine
 * filled in from the test rig (testkit/rig-setup.sh). scripts/local-pulumi.sh runs pulumi with
 * --config-file on that copy, so the checkout's Pulumi.local.yaml is never written to.
 *
 *   node --require esbuild-register scripts/local-stack-config.ts --committed Pulumi.local.yaml --rig RIG.json --out FILE
 *
 * From the committed file: everything it sets. From the rig: each host's pinned host key (matched by
 * address and port) and the digest of the proxy image it built (its repository must be the one the
 * committed deploy.proxyImage names). Kept from an earlier copy: the values only this machine has (the deploy key
 * secret, version, digest) and the encryption salt their secrets are encrypted with.
 */
import * as fs from "fs";
import { isDeepStrictEqual } from "util";
import * as YAML from "yaml";

const PROJECT = "cicd-pipeline";
/** Keys this machine sets itself; all others come from the committed file. */
export const MACHINE_KEYS = ["deploySshKey", "version", "digest"].map((k) => `${PROJECT}:${k}`);

/** The part of the rig's description (rig.json) that is needed here. */
export interface RigHosts {
    readonly hosts: readonly { address: string; port: number; hostKey: string }[];
    /** The rig's proxy image, REPOSITORY@sha256:HEX. */
    readonly proxyImage: string;
}

interface StackFile {
    config?: Record<string, unknown>;
    encryptionsalt?: string;
    [key: string]: unknown;
}

/** The machine's stack file, as an object, from the committed one, the rig and an earlier copy. */
export function machineStackFile(committed: string, rig: RigHosts, earlier?: string): StackFile {
    const file = (YAML.parse(committed) ?? {}) as StackFile;
    const before = (earlier ? YAML.parse(earlier) : undefined) ?? ({} as StackFile);
    const config = { ...(file.config ?? {}) };

    const deployKey = `${PROJECT}:deploy`;
    const deploy = config[deployKey] as {
        hosts?: { address: string; port?: number; hostKey: string }[];
        proxyImage?: string;
    };
    if (!deploy?.hosts?.length) throw new Error(`the committed stack file has no ${deployKey}.hosts`);
    const [rigProxy, rigProxyDigest] = rig.proxyImage.split("@");
    const proxyName = (deploy.proxyImage ?? "").split("@")[0];
    if (proxyName !== rigProxy && !proxyName.startsWith(`${rigProxy}:`)) {
        throw new Error(
            `the committed ${deployKey}.proxyImage (${deploy.proxyImage}) is not the rig's proxy image ${rigProxy}`,
        );
    }
    config[deployKey] = {
        ...deploy,
        proxyImage: `${proxyName}@${rigProxyDigest}`,
        hosts: deploy.hosts.map((h) => {
            const port = h.port ?? 22;
            const found = rig.hosts.find((r) => r.address === h.address && r.port === port);
            if (!found) {
                throw new Error(
                    `the rig has no host at ${h.address}:${port}; run testkit/rig-setup.sh (hosts: ${rig.hosts
                        .map((r) => `${r.address}:${r.port}`)
                        .join(", ")})`,
                );
            }
            return { ...h, hostKey: found.hostKey };
        }),
    };

    for (const key of MACHINE_KEYS) {
        if (key in config)
            throw new Error(`the committed stack file must not set ${key}: it differs per machine`);
        const value = before.config?.[key];
        if (value !== undefined) config[key] = value;
    }
    const out: StackFile = { ...file, config };
    if (before.encryptionsalt) out.encryptionsalt = before.encryptionsalt;
    return out;
}

function main(argv: string[]): void {
    const value = (flag: string): string => {
        const i = argv.indexOf(flag);
        if (i < 0 || !argv[i + 1]) {
            console.error("usage: local-stack-config.ts --committed FILE --rig RIG.json --out FILE");
            process.exit(2);
        }
        return argv[i + 1];
    };
    const out = value("--out");
    const earlier = fs.existsSync(out) ? fs.readFileSync(out, "utf8") : undefined;
    const next = machineStackFile(
        fs.readFileSync(value("--committed"), "utf8"),
        JSON.parse(fs.readFileSync(value("--rig"), "utf8")) as RigHosts,
        earlier,
    );
    // Rewritten only when it changes: pulumi reformats the file whenever it sets a value.
    if (earlier !== undefined && isDeepStrictEqual(YAML.parse(earlier), next)) return;
    fs.writeFileSync(`${out}.tmp`, YAML.stringify(next), { mode: 0o600 });
    fs.renameSync(`${out}.tmp`, out);
}

if (require.main === module) main(process.argv.slice(2));
