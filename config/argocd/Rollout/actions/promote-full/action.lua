-- promote-full, as `ramp promote --full`: skip every remaining step, pause
-- and analysis.
if obj.status == nil then
  obj.status = {}
end
obj.status.promoteFull = true
obj.status.pauseConditions = nil
obj.spec.paused = nil
return obj
