/**
 * Copies of the local stack for the end-to-end tests: each test runs the committed program on its
 * own instance and ports, so it never touches the local stack a developer left serving
 * (scripts/local-up.sh: instance `local`, ports 18600-18602, metrics on the default port).
 */
import * as fs from "fs";
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
