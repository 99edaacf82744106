-- skip-current-step, as `ramp promote --skip-current-step`: go to the next
-- canary step, whatever the current one waits for.
if obj.status == nil or obj.spec.strategy.canary == nil or obj.spec.strategy.canary.steps == nil then
  return obj
end
local step = tonumber(obj.status.currentStepIndex) or 0
if step < #obj.spec.strategy.canary.steps then
  obj.status.pauseConditions = nil
  obj.status.currentStepIndex = step + 1
end
return obj
