/**
 * Copies of the local stack for the end-to-end tests: each test runs the committed program on its
 * own instance and ports, so it never touches the local stack a developer left serving
 * (scripts/local-up.sh: instance `local`, ports 18600-18602, metrics on the default port).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";

/**
 * Rewrites the Pulumi.local.yaml in `project` to release `instance` with the proxy on `port`, the
 * colours on port + 1 and port + 2, and the proxy's metrics on port + 5.
 */
export function isolateLocalStack(project: string, instance: string, port: number): void {
    const file = path.join(project, "Pulumi.local.yaml");
    const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
    const deploy = ["config", "cicd-pipeline:deploy"];
    doc.setIn([...deploy, "instance"], instance);
    doc.setIn([...deploy, "publicPort"], port);
    doc.setIn([...deploy, "bluePort"], port + 1);
    doc.setIn([...deploy, "greenPort"], port + 2);
    doc.setIn([...deploy, "metricsPort"], port + 5);
    doc.setIn(["config", "cicd-pipeline:environment", "url"], `http://127.0.0.1:${port}`);
    fs.writeFileSync(file, doc.toString());
}

/** A copy of the project in a temporary directory, and the environment its scripts run with. */
export interface LocalStackCopy {
    /** The copy (the checkout without .git; node_modules linked). Its parent holds the state too. */
    readonly project: string;
    /** The caller's environment, with the copy's own state directory and the vendored sources. */
    readonly env: NodeJS.ProcessEnv;
}

/**
 * Copies the checkout at `root` into a new temporary directory named from `prefix`, with its
 * Pulumi.local.yaml isolated (isolateLocalStack) and its own local state directory. Remove
 * path.dirname(project) when done.
 */
export function copyLocalStack(root: string, prefix: string, instance: string, port: number): LocalStackCopy {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    const project = path.join(tmp, "project");
    fs.cpSync(root, project, {
        recursive: true,
        filter: (src) => !/(^|\/)(node_modules|\.git)$/.test(path.relative(root, src)),
    });
    fs.symlinkSync(path.join(root, "node_modules"), path.join(project, "node_modules"));
    isolateLocalStack(project, instance, port);
    const env = {
        ...process.env,
        CICD_LOCAL_STATE: path.join(tmp, "state"),
        // The copy is not beside shared/ as the checkout is: provide-engine.sh finds the vendored
        // source snapshots where the checkout's would.
        CICD_VENDOR_DIR: process.env.CICD_VENDOR_DIR ?? path.resolve(root, "..", "shared", "vendor"),
    };
    return { project, env };
}
