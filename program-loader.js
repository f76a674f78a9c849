"use strict";
/**
 * How `pulumi up` loads the program (Pulumi.yaml: `nodeargs: --require ./program-loader.js`).
 *
 * - index.ts and every module of this project it imports become one CommonJS text, by one esbuild
 *   call, compiled as index.ts. Packages stay `require`d from node_modules. Transpiling file by file
 *   (esbuild-register, ts-node) costs one transform and one module lookup per file on every run;
 *   a bundle costs one build (about 25 ms). Nothing is type-checked here: `npm run check`
 *   (tsc --noEmit) checks the same code in the tests and in CI.
 * - In the bundle every module's `__dirname` is the project's folder, so the program names its
 *   files from project.ts (eslint refuses `__dirname` elsewhere in the program).
 * - Stack traces point into the TypeScript files: the bundle's source map goes to
 *   source-map-support, which the SDK installs too.
 * - V8's compiled code of the SDK and of the bundle is kept between runs in the user's cache
 *   (Node's module compile cache, keyed by each file's content), not in a shared /tmp.
 * The tests load the same modules file by file (mocha with esbuild-register).
 */
const esbuild = require("esbuild");
const Module = require("module");
const os = require("os");
const path = require("path");
const sourceMapSupport = require("source-map-support");

const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
Module.enableCompileCache?.(path.join(cacheHome, "cicd-pipeline", "node-compile-cache"));

/** The source map of each bundle, by the file name it is compiled as. */
const maps = new Map();
// The SDK installs this same source-map-support (cmd/run: source-map-support/register); the
// handler added here stays.
sourceMapSupport.install({
    retrieveSourceMap: (file) => (maps.has(file) ? { url: file, map: maps.get(file) } : null),
});

require.extensions[".ts"] = (module, filename) => {
    const { outputFiles } = esbuild.buildSync({
        entryPoints: [filename],
        outfile: `${filename}.js`,
        bundle: true,
        packages: "external",
        platform: "node",
        format: "cjs",
        target: "node24",
        sourcemap: "external",
        write: false,
        logLevel: "silent",
    });
    const file = (ext) => outputFiles.find((f) => f.path.endsWith(ext)).text;
    maps.set(filename, file(".js.map"));
    module._compile(file(".js"), filename);
};
