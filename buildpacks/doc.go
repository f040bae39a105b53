// Package buildpacks holds no code: it is the home of the test that keeps the image
// descriptors (buildpacks/<name>/project.toml) in step with the deployables. See README.md.
package buildpacks
