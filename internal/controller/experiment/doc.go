// Package experiment is the Experiment reconciler: it runs one ReplicaSet
// per template (<experiment>-<template>, labelled with the experiment and
// template names and the pod-template hash, owned by the Experiment) and,
// for a template with service, a Service selecting its pods by hash; waits
// until every template is available (availableAt) or fails the experiment
// at its progress deadline, starts one AnalysisRun per analysis
// (<experiment>-<analysis>, its arguments' {{templates.<name>...}} and
// {{experiment...}} variables filled in), and ends it: after duration, when
// every requiredForCompletion analysis has finished, when an analysis fails,
// or on spec.terminate. Then running analyses are terminated and, after
// scaleDownDelaySeconds, the Services are deleted and the ReplicaSets
// scaled to zero. Every name is fixed, so a restarted controller finds what
// it created, and a Service or ReplicaSet it does not own is never adopted
// (TestExperimentSurvivesTheControllerKilled kills the process twice; the
// chaos suite does not cover experiments); an ended Experiment whose
// ReplicaSets are at zero writes nothing. The canary experiment step's
// side (creating the Experiment, weights) is internal/controller/rollout's.
package experiment
