-- promote, as `ramp promote`: end the pause the rollout waits in; without a
-- pause, go to the next canary step.
if obj.status == nil then
  return obj
end
local paused = obj.spec.paused == true or (obj.status.pauseConditions ~= nil and #obj.status.pauseConditions > 0)
obj.spec.paused = nil
obj.status.pauseConditions = nil
if not paused and obj.spec.strategy.canary ~= nil and obj.spec.strategy.canary.steps ~= nil then
  local step = tonumber(obj.status.currentStepIndex) or 0
  if step < #obj.spec.strategy.canary.steps then
    obj.status.currentStepIndex = step + 1
  end
end
return obj
