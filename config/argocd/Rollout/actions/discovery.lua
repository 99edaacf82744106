-- The actions Argo CD offers on a ramp.dev Rollout, and when they apply.
local actions = {}
local status = obj.status or {}
local spec = obj.spec or {}

-- Fully promoted: the desired template is the stable one.
local promoted = status.currentPodHash ~= nil and status.currentPodHash == status.stableRS
local aborted = status.abort == true
local paused
if status.pauseConditions ~= nil then
  paused = #status.pauseConditions > 0
else
  paused = spec.paused == true
end
local steps = 0
if spec.strategy ~= nil and spec.strategy.canary ~= nil and spec.strategy.canary.steps ~= nil then
  steps = #spec.strategy.canary.steps
end
local step = tonumber(status.currentStepIndex)

actions["restart"] = {["disabled"] = false, ["displayName"] = "Restart Pods"}
actions["resume"] = {["disabled"] = not paused}
actions["pause"] = {["disabled"] = promoted or aborted or spec.paused == true}
actions["abort"] = {["disabled"] = promoted or aborted}
actions["retry"] = {["disabled"] = promoted or not aborted}
actions["promote"] = {["disabled"] = aborted or not (paused or (steps > 0 and step ~= nil and step < steps and not promoted))}
actions["promote-full"] = {["disabled"] = obj.status == nil or promoted or aborted}
actions["skip-current-step"] = {["disabled"] = aborted or promoted or steps == 0 or step == nil or step >= steps}
return actions
