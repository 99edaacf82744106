-- resume: lift `ramp pause` and the pause of a step.
if obj.status ~= nil and obj.status.pauseConditions ~= nil and #obj.status.pauseConditions > 0 then
  obj.status.pauseConditions = nil
end
if obj.spec.paused == true then
  obj.spec.paused = nil
end
return obj
