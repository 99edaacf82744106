#!/bin/sh
# A release script written for Argo Rollouts' kubectl plugin, unchanged but
# for the plugin's name. TestArgoGrammarScript runs each `kubectl argo rollouts`
# line with Ramp's CLI in its place, in a fresh namespace with Ramp's
# controller. `#>` says what the line before printed, `#fails:` what it failed
# with; `#wait NAME PHASE [STEP [IMAGE]]` waits as a CI job polling `get`
# would (STEP and IMAGE may be -).
set -e

kubectl argo rollouts version --short
kubectl argo rollouts lint -f $DIR/demo.yaml
#> 1 Ramp object, no problems
kubectl argo rollouts create -f $DIR/demo.yaml
#> rollout "demo" created
kubectl argo rollouts status demo --timeout 90s
#> Healthy
kubectl argo rollouts list rollouts --name demo
#> Healthy

# A release: through the first pause, then aborted and retried.
kubectl argo rollouts set image demo demo=argoproj/rollouts-demo:yellow
#> rollout "demo" image updated: demo=argoproj/rollouts-demo:yellow
#wait demo Paused 1
kubectl argo rollouts get rollout demo
#> argoproj/rollouts-demo:yellow
kubectl argo rollouts promote demo
#> promoted
#wait demo Paused 3
kubectl argo rollouts abort demo
#> aborted
#wait demo Degraded
kubectl argo rollouts status demo --watch=false
#> Degraded
kubectl argo rollouts retry rollout demo
#> retried
#wait demo Paused 1
kubectl argo rollouts promote demo --skip-current-step
#> promoted
#wait demo Paused 3
kubectl argo rollouts promote demo --full
#> fully promoted
kubectl argo rollouts status demo --timeout 90s
#> Healthy

# Back to the previous revision, past every step.
kubectl argo rollouts undo demo
#> rolled back to revision 1
#wait demo Paused 1 argoproj/rollouts-demo:blue
kubectl argo rollouts promote demo --skip-all-steps
#> every remaining step skipped
kubectl argo rollouts status demo -t 90s
#> Healthy
kubectl argo rollouts pause demo
#> paused
kubectl argo rollouts promote demo
#> the pause ends
kubectl argo rollouts restart demo -i 1h
#> restarts at

# A workloadRef rollout: set image and undo change the Deployment.
kubectl argo rollouts create -f $DIR/wl.yaml
#> rollout "wl" created
kubectl argo rollouts status wl --timeout 90s
#> Healthy
kubectl argo rollouts set image wl app=example/wl:2
#> (in Deployment "wl", its workloadRef)
#wait wl Healthy - example/wl:2
kubectl argo rollouts undo wl
#> (in Deployment "wl", its workloadRef)
#wait wl Healthy - example/wl:1

# Analysis by hand.
kubectl argo rollouts create analysisrun --from-file $DIR/template.yaml --name check -a url=$WEB
#> analysisrun "check" created from template "errors"
kubectl argo rollouts terminate analysisrun check
#> terminated
kubectl argo rollouts get analysisrun check

# Experiments: Argo's commands, Ramp's answers.
kubectl argo rollouts get experiment demo-exp
#fails: experiment "demo-exp" not found
kubectl argo rollouts list experiments
#> NAME
kubectl argo rollouts list rollouts -A
#> demo
